"""Credentials never reach a log line: redaction of tokens in text and log records.

A bearer token can travel in three places a log may record: an ``Authorization`` header,
a ``token`` (or ``access_token``, ``api_key``) query parameter, and a websocket ``auth``
frame. :func:`redact` replaces the secret part of each with ``[REDACTED]``;
:class:`RedactingFilter` applies it to every record a handler emits (message, arguments
and traceback), and :class:`RedactingAccessLogger` to every field of the access log.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from aiohttp.web_log import AccessLogger
from aiohttp.web_request import BaseRequest
from aiohttp.web_response import StreamResponse

REDACTED = "[REDACTED]"

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # ?token=..., &access_token=..., api_key=... (a query string or a form body)
    (re.compile(r"(?i)((?:access_)?token|api[_-]?key|password|secret)=([^&\s\"'#]+)"), rf"\1={REDACTED}"),
    # their percent-encoded forms, as a logged URL may carry them (token%3D...)
    (re.compile(r"(?i)((?:access_)?token|api[_-]?key)%3D([^&\s\"'#%]+)"), rf"\1%3D{REDACTED}"),
    # Authorization: Bearer ..., Basic ...
    (re.compile(r"\b(Bearer|Basic|bearer)\s+[A-Za-z0-9._~+/=-]+"), rf"\1 {REDACTED}"),
    # "token": "..." in a logged JSON frame or body
    (re.compile(r"(?i)(\"(?:access_)?token\"\s*:\s*\")[^\"]*(\")"), rf"\1{REDACTED}\2"),
)


_SUSPECT = re.compile(r"(?i)token|api[_-]?key|password|secret|bearer|basic")
"""A word every pattern above needs: text without one is returned at once (one search instead of
four substitutions on every field of every access-log line)."""


def redact(text: str) -> str:
    """``text`` with every credential it carries replaced by ``[REDACTED]``."""
    if _SUSPECT.search(text) is None:
        return text
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    """A handler filter that redacts the formatted message and the traceback of each record.

    Installed on the handlers of ``mlw serve`` and ``mlw worker``, so no logger of ours or of
    a library (aiohttp's server errors quote request lines) can write a token out.
    """

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: leave it to the handler to report
            return True
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def install_redaction(logger: logging.Logger | None = None) -> None:
    """Add a :class:`RedactingFilter` to every handler of ``logger`` (default: the root logger)."""
    target = logger or logging.getLogger()
    for handler in target.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())


class RedactingAccessLogger(AccessLogger):
    """aiohttp's access logger, with every field (request line, referer, ...) redacted.

    The fields are also passed to the log record as ``extra``; they are redacted there too,
    so a structured handler sees no token either.
    """

    def _format_line(self, request: BaseRequest, response: StreamResponse, time: float) -> Any:
        lines = super()._format_line(request, response, time)
        return [(key, redact(value) if isinstance(value, str) else value) for key, value in lines]
