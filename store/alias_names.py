"""Alias names and version references: the pure rules, no I/O.

A *version reference* is what a client gives wherever the service takes a version:
``3``, ``"3"``, ``"v3"`` (as the UI writes versions) or an alias name such as
``"champion"``. Digits, with or without a leading ``v``, always mean a number, which is
why an alias name starts with a letter and is never ``v`` followed by digits.
"""

from __future__ import annotations

import re

from store.errors import InvalidInput

ALIAS_MAX_CHARS = 64
ALIAS_PATTERN = r"^[a-z][a-z0-9_.-]{0,63}$"
ALIAS_RULE = (
    "must be 1-64 characters of a-z 0-9 _ . - starting with a letter, and not v<digits> "
    "(digits, with or without a leading v, mean a version number)"
)
MAX_VERSION = 2**31 - 1
VERSION_REF_PATTERN = r"^([0-9]{1,10}|[a-z][a-z0-9_.-]{0,63})$"
"""A version reference written as text (a path parameter): digits, or an alias name."""
_ALIAS_RE = re.compile(ALIAS_PATTERN)
_NUMBER_RE = re.compile(r"^v?([0-9]{1,10})$")

VersionRef = int | str
"""A version number, or an alias name (``"3"`` and ``"v3"`` are the number 3)."""


def check_alias_name(name: object, *, field: str = "alias") -> str:
    """``name`` if it is a valid alias name.

    Raises:
        InvalidInput: naming ``field``, when the name is malformed.
    """
    # fullmatch: ``$`` alone would accept a trailing newline.
    if not isinstance(name, str) or not _ALIAS_RE.fullmatch(name) or _NUMBER_RE.fullmatch(name):
        raise InvalidInput(field, ALIAS_RULE)
    return name


def parse_version_ref(ref: object, *, field: str = "version") -> VersionRef:
    """A reference as given by a client: the version number, or the alias name.

    Raises:
        InvalidInput: naming ``field``, when ``ref`` is neither a number in 1..2**31-1 nor an alias name.
    """
    if isinstance(ref, bool):
        raise InvalidInput(field, "expected a version number or an alias name")
    if isinstance(ref, int):
        number = ref
    elif isinstance(ref, str) and (digits := _NUMBER_RE.fullmatch(ref)):
        number = int(digits.group(1))
    elif isinstance(ref, str) and _ALIAS_RE.fullmatch(ref):
        return ref
    else:
        raise InvalidInput(field, f"expected a version number or an alias name; an alias name {ALIAS_RULE}")
    if not 1 <= number <= MAX_VERSION:
        raise InvalidInput(field, f"a version number must be between 1 and {MAX_VERSION}")
    return number
