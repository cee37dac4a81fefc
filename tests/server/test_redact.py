"""Redaction of credentials in log text, records and tracebacks."""

from __future__ import annotations

import logging
import re

import pytest
from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.test_utils import make_mocked_request
from aiohttp.web_log import AccessLogger

from server.redact import RedactingAccessLogger, RedactingFilter, redact

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


@pytest.mark.parametrize(
    "text", [f"GET /x?TOKEN={SECRET}", f"GET /x?to\u212aen={SECRET}", f"GET /x?pa\u017f\u017fword={SECRET}"]
)
def test_a_credential_in_any_case_or_with_letters_that_match_ascii_ones_is_redacted(text: str) -> None:
    assert SECRET not in redact(text)


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


def _access_lines(logger_class: type[AbstractAccessLogger], request: web.BaseRequest, response: web.Response) -> str:
    records: list[logging.LogRecord] = []
    logger = logging.getLogger(f"test.access.{logger_class.__name__}")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logger.addHandler(handler)
    try:
        logger_class(logger, AccessLogger.LOG_FORMAT).log(request, response, 0.25)
    finally:
        logger.removeHandler(handler)
    assert len(records) == 1
    return records[0].getMessage()


def test_the_access_log_line_is_aiohttps_default_line_with_every_credential_redacted() -> None:
    request = make_mocked_request(
        "GET", f"/ml-workflow/ws?token={SECRET}&x=1",
        headers={"Referer": f"http://ui.example/?api_key={SECRET}", "User-Agent": f"curl Bearer {SECRET}"},
    )
    response = web.Response(text="hello", status=201)
    ours = _access_lines(RedactingAccessLogger, request, response)
    aiohttps = _access_lines(AccessLogger, request, response)
    stamp = re.compile(r" \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] ")
    assert stamp.search(ours), ours
    assert SECRET not in ours
    # Apart from the start time (formatted in each logger's own second), the same line as aiohttp's, redacted.
    assert stamp.sub(" [t] ", ours) == stamp.sub(" [t] ", redact(aiohttps))
    assert ('"GET /ml-workflow/ws?token=[REDACTED]&x=1 HTTP/1.1" 201 0 '
            '"http://ui.example/?api_key=[REDACTED]" "curl Bearer [REDACTED]"') in ours
