"""The ``{version}`` path parameter that takes a number or an alias name."""

from __future__ import annotations

import re
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from server.errors import UnprocessableEntity
from server.version_ref import VERSION_REF_SCHEMA, version_ref_param


def _request(value: str) -> web.Request:
    request = make_mocked_request("GET", f"/x/{value}", match_info={"version": value})
    return request


@pytest.mark.parametrize(("raw", "parsed"), [("3", 3), ("champion", "champion"), ("active", "active")])
def test_a_number_or_an_alias_name_is_parsed_and_matches_the_documented_pattern(raw: str, parsed: Any) -> None:
    assert version_ref_param(_request(raw)) == parsed
    assert re.fullmatch(VERSION_REF_SCHEMA["pattern"], raw)


@pytest.mark.parametrize("raw", ["0", "Champion", "-1", "v 2", "a" * 65, "99999999999", "٣"])
def test_anything_else_is_a_422_naming_the_path_parameter(raw: str) -> None:
    with pytest.raises(UnprocessableEntity) as caught:
        version_ref_param(_request(raw))
    assert caught.value.details == {"location": "path", "field": "version"}
    assert not re.fullmatch(VERSION_REF_SCHEMA["pattern"], raw) or raw in ("0", "99999999999")
