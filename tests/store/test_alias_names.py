"""Alias names and version references: the pure parsing rules."""

from __future__ import annotations

import pytest

from store.alias_names import MAX_VERSION, check_alias_name, parse_version_ref
from store.errors import InvalidInput


@pytest.mark.parametrize(
    "name", ["active", "champion", "challenger", "staging", "a", "v", "v2.prod-eu_1", "v2a", "a" * 64]
)
def test_well_formed_alias_names_are_accepted(name: str) -> None:
    assert check_alias_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        *("", "3", "v3", "v12", "1abc", "Champion", "-x", ".x", "_x", "a b", "a/b"),
        *("a" * 65, "champion\n", "chámpion", 7, None),
    ],
)
def test_malformed_alias_names_are_refused_naming_the_field(name: object) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_alias_name(name, field="name")
    assert caught.value.field == "name"
    assert "starting with a letter" in caught.value.message


@pytest.mark.parametrize(
    ("ref", "parsed"),
    [(3, 3), ("3", 3), ("v3", 3), ("0012", 12), ("champion", "champion"), ("v3a", "v3a"), (MAX_VERSION, MAX_VERSION)],
)
def test_a_reference_is_a_number_when_it_is_digits_and_an_alias_name_otherwise(ref: object, parsed: object) -> None:
    assert parse_version_ref(ref) == parsed


@pytest.mark.parametrize(
    "ref", [0, -1, "0", "v0", "V3", MAX_VERSION + 1, "99999999999", True, 1.0, "v 1", "Champion", "", None, "٣"]
)
def test_a_malformed_reference_is_refused_naming_the_field(ref: object) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_version_ref(ref, field="versions[1]")
    assert caught.value.field == "versions[1]"
