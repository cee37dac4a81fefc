"""A large graph body validated node by node (server/large_body.py) gives exactly what the plain path gives."""

from __future__ import annotations

import json
from typing import Any

import pydantic
import pytest

from server.errors import BadRequest, UnprocessableEntity
from server.large_body import has_graph, validate_graph_body
from server.parsing import _validate, _validate_large
from server.schemas.jobs import SubmitJobIn
from server.schemas.pipelines import PipelineIn
from tests.job_fixtures import graph_for, long_chain


def _body(**changes: Any) -> dict[str, Any]:
    big = long_chain(graph_for("logistic_regression"), 995)
    return {"dataset_source_id": "d1", "node_id": "train", "graph": big, **changes}


@pytest.mark.parametrize("model", [SubmitJobIn, PipelineIn])
def test_a_valid_large_body_validates_to_the_same_model_as_the_plain_path(model: type[pydantic.BaseModel]) -> None:
    body = _body(pipeline_id="p1") if model is SubmitJobIn else _body(name="big")
    if model is PipelineIn:
        del body["node_id"]
    raw = json.dumps(body).encode()
    stepped, plain = validate_graph_body(raw, model), _validate(raw, model)
    assert stepped is not None
    assert stepped == plain
    assert stepped.model_dump(exclude_unset=True) == plain.model_dump(exclude_unset=True)
    assert stepped.model_fields_set == plain.model_fields_set


def test_only_models_with_a_graph_take_the_stepped_path() -> None:
    assert has_graph(SubmitJobIn) and has_graph(PipelineIn)
    assert not has_graph(pydantic.create_model("NoGraph", graph=(dict, ...)))


@pytest.mark.parametrize(
    "raw",
    [
        b"{not json",
        json.dumps(_body()).replace('"x": 0', '"x": NaN', 1).encode(),
        json.dumps(_body(unknown=1)).encode(),
        json.dumps(_body(graph={"nodes": [{"id": "a"}], "edges": []})).encode(),
        json.dumps(_body(graph={"nodes": [], "edges": [{"id": "e"}]})).encode(),
        json.dumps(_body(graph={"nodes": "many"})).encode(),
        json.dumps([1, 2]).encode(),
    ],
    ids=["not-json", "nan", "unknown-field", "bad-node", "bad-edge", "nodes-not-a-list", "not-an-object"],
)
def test_a_body_with_any_problem_is_answered_by_the_plain_path_with_the_same_error(raw: bytes) -> None:
    assert validate_graph_body(raw, SubmitJobIn) is None
    with pytest.raises((BadRequest, UnprocessableEntity)) as plain:
        _validate(raw, SubmitJobIn)
    with pytest.raises(type(plain.value)) as large:
        _validate_large(raw, SubmitJobIn)
    assert str(large.value) == str(plain.value)
    assert large.value.details == plain.value.details
