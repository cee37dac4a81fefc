"""Credentials never reach a log line: redaction of tokens in text and log records.

A bearer token can travel in three places a log may record: an ``Authorization`` header,
a ``token`` (or ``access_token``, ``api_key``) query parameter, and a websocket ``auth``
frame. :func:`redact` replaces the secret part of each with ``[REDACTED]``;
:class:`RedactingFilter` applies it to every record a handler emits (message, arguments
and traceback), and :class:`RedactingAccessLogger` to each access-log line.
"""

from __future__ import annotations

import datetime
import logging
import re
import time as _time

from aiohttp.abc import AbstractAccessLogger
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
_SUSPECT_WORDS = ("token", "key", "password", "secret", "bearer", "basic")
"""The same words for ASCII text, found by substring search: a case-insensitive regular
expression tries every position of the line and cost 6 µs per access-log line, the substring
tests about a tenth of that. (``key`` stands for ``api_key``, ``api-key`` and ``apikey``.)"""


def _may_hold_credential(text: str) -> bool:
    if not text.isascii():  # IGNORECASE matches a few non-ASCII letters (Kelvin sign, long s) to ASCII ones
        return _SUSPECT.search(text) is not None
    lowered = text.lower()
    return any(word in lowered for word in _SUSPECT_WORDS)


def redact(text: str) -> str:
    """``text`` with every credential it carries replaced by ``[REDACTED]``."""
    if not _may_hold_credential(text):
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


class RedactingAccessLogger(AbstractAccessLogger):
    """aiohttp's default access-log line, written directly and redacted as a whole.

    The line is aiohttp's ``LOG_FORMAT`` (``%a %t "%r" %s %b "%{Referer}i" "%{User-Agent}i"``),
    so operators' parsers keep working. aiohttp's own logger interprets that format item by
    item and formats the time on every request; for the API's small answers that was about a
    fifth of the event loop's CPU per request. Here the line is one f-string, the time is
    formatted once a second, and :func:`redact` runs once over the whole line (request line,
    referer and user agent alike).
    """

    _stamp_second = -1
    _stamp = ""

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.INFO)

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        try:
            version = request.version
            headers = request.headers
            line = (
                f'{request.remote or "-"} {self._started(time)} '
                f'"{request.method} {request.path_qs} HTTP/{version.major}.{version.minor}" '
                f'{response.status} {response.body_length} '
                f'"{headers.get("Referer", "-")}" "{headers.get("User-Agent", "-")}"'
            )
            self.logger.info("%s", redact(line))
        except Exception:
            self.logger.exception("Error in logging")

    @classmethod
    def _started(cls, elapsed: float) -> str:
        """``[day/Mon/year:H:M:S +zone]`` of the request's start, in local time."""
        second = int(_time.time() - elapsed)
        if second != cls._stamp_second:
            local = datetime.datetime.fromtimestamp(second).astimezone()
            cls._stamp, cls._stamp_second = local.strftime("[%d/%b/%Y:%H:%M:%S %z]"), second
        return cls._stamp
