"""Redaction of credentials in log text, records and tracebacks."""

from __future__ import annotations

import logging

import pytest

from server.redact import RedactingFilter, redact

SECRET = "s3cr3t-T0ken_value~x"


@pytest.mark.parametrize(
    "text",
    [
        f"GET /ml-workflow/ws?token={SECRET} HTTP/1.1",
        f"GET /x?a=1&access_token={SECRET}&b=2 HTTP/1.1",
        f"GET /x?api_key={SECRET}",
        f"url=/ml-workflow/ws%3Ftoken%3D{SECRET}",
        f"Authorization: Bearer {SECRET}",
        f'{{"op": "auth", "token": "{SECRET}"}}',
    ],
)
def test_every_form_of_a_credential_is_redacted(text: str) -> None:
    out = redact(text)
    assert SECRET not in out
    assert "[REDACTED]" in out


def test_text_without_credentials_is_unchanged() -> None:
    text = 'GET /ml-workflow/api/training-jobs?status=running&limit=10 HTTP/1.1" 200 "tokens are fine"'
    assert redact(text) == text


def test_a_record_its_arguments_and_its_traceback_are_redacted() -> None:
    try:
        raise ValueError(f"bad request line b'GET /?token={SECRET} HTTP/1.1'")
    except ValueError as exc:
        record = logging.LogRecord("t", logging.ERROR, __file__, 1, "from %s: %s", ("1.2.3.4", f"Bearer {SECRET}"),
                                   (type(exc), exc, exc.__traceback__))
    assert RedactingFilter().filter(record)
    formatted = logging.Formatter().format(record)
    assert SECRET not in formatted
    assert "from 1.2.3.4: Bearer [REDACTED]" in formatted and "token=[REDACTED]" in formatted
