"""The value checks every JSON body goes through (``server.parsing.json_value_problem``)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from server.parsing import MAX_JSON_INT, json_value_problem


def test_a_document_of_plain_values_has_no_problem() -> None:
    document = {"a": [1, 2.5, True, None, "text", {"b": (MAX_JSON_INT, -MAX_JSON_INT)}], "c": {}}
    assert json_value_problem(document) is None


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({"graph": {"nodes": [{"config": {"x": math.nan}}]}}, "graph.nodes.0.config.x"),
        ({"a": [1, {"b": math.inf}]}, "a.1.b"),
        ({"a": {"b": MAX_JSON_INT + 1}}, "a.b"),
        ({"a": ["ok", "bad\x00"]}, "a.1"),
        ({"a": {"k\x00": 1}}, "a.k\\u0000"),
    ],
)
def test_the_first_bad_value_is_named_by_its_dotted_path(document: dict[str, Any], field: str) -> None:
    found = json_value_problem(document)
    assert found is not None and found[0] == field
