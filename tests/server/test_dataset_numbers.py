"""Numbers uploaded in a CSV reach the stored Parquet, the preview and the model exactly as
Python's ``float()`` reads their text (17 significant digits, exponents, mixed integers)."""

from __future__ import annotations

import io
import struct
from typing import Any

import numpy as np
import pandas as pd
from aiohttp import FormData
from aiohttp.test_utils import TestClient
from sklearn.datasets import load_diabetes

from actors.jobs.runner import Outcome, run_job
from server.keys import JOBS
from store.settings import Settings
from tests.job_fixtures import graph_for
from tests.server.conftest import API, People, Person


def bits(value: float) -> int:
    return int(struct.unpack("<q", struct.pack("<d", value))[0])


def texts_needing_17_digits(count: int, seed: int) -> list[str]:
    """Decimal texts of doubles, each written with 17 significant digits."""
    rng = np.random.default_rng(seed)
    values = rng.standard_normal(count) * 10.0 ** rng.integers(-30, 30, count)
    return [format(float(v), ".17g") for v in values]


async def upload(client: TestClient[Any, Any], who: Person, data: bytes, filename: str) -> dict[str, Any]:
    form = FormData()
    form.add_field("file", data, filename=filename, content_type="application/octet-stream")
    resp = await client.post(f"{API}/datasets", data=form, headers=who.headers)
    assert resp.status == 201, await resp.text()
    created: dict[str, Any] = await resp.json()
    return created


async def test_every_number_is_stored_and_previewed_exactly_as_float_reads_its_text(
    client: TestClient[Any, Any], people: People, settings: Settings
) -> None:
    xs, ys = texts_needing_17_digits(2000, 1), texts_needing_17_digits(2000, 2)
    ys[5] = "12"  # an integer among floats is still the float 12.0
    csv = "x,y,label\n" + "".join(f"{x},{y},{'ab'[i % 2]}\n" for i, (x, y) in enumerate(zip(xs, ys, strict=True)))

    created = await upload(client, people.alice, csv.encode(), "numbers.csv")

    assert [c["dtype"] for c in created["columns"]] == ["float64", "float64", "object"]
    stored = pd.read_parquet(settings.data_dir / "datasets" / f"{created['id']}.parquet")
    assert [bits(v) for v in stored["x"]] == [bits(float(t)) for t in xs]
    assert [bits(v) for v in stored["y"]] == [bits(float(t)) for t in ys]
    resp = await client.get(f"{API}/datasets/{created['id']}", headers=people.alice.headers)
    preview = (await resp.json())["preview"]
    assert [bits(row["x"]) for row in preview] == [bits(float(t)) for t in xs[:20]]
    assert [bits(row["y"]) for row in preview] == [bits(float(t)) for t in ys[:20]]


async def _train(client: TestClient[Any, Any], who: Person, dataset_id: str) -> dict[str, Any]:
    graph = graph_for("lightgbm", "target", task="regression", hyperparameters={"n_estimators": 60})
    body = {"dataset_source_id": dataset_id, "node_id": "train", "graph": graph}
    resp = await client.post(f"{API}/training-jobs", json=body, headers=who.headers)
    assert resp.status == 202, await resp.text()
    job_id = (await resp.json())["id"]
    assert await run_job(client.app[JOBS], job_id) is Outcome.SUCCEEDED
    resp = await client.get(f"{API}/training-jobs/{job_id}", headers=who.headers)
    job: dict[str, Any] = await resp.json()
    return job


async def test_lightgbm_on_diabetes_uploaded_as_csv_scores_as_on_the_same_numbers_in_parquet(
    client: TestClient[Any, Any], people: People
) -> None:
    frame = load_diabetes(as_frame=True).frame
    text = frame.to_csv(index=False, float_format="%.17g")
    same_numbers = pd.read_csv(io.StringIO(text), dtype=str).map(float)  # float() of every cell's text
    parquet = io.BytesIO()
    same_numbers.to_parquet(parquet, index=False)

    from_csv = await upload(client, people.alice, text.encode(), "diabetes.csv")
    from_parquet = await upload(client, people.alice, parquet.getvalue(), "diabetes.parquet")
    csv_job = await _train(client, people.alice, from_csv["id"])
    parquet_job = await _train(client, people.alice, from_parquet["id"])

    assert csv_job["metrics"]["test"]["rmse"] == parquet_job["metrics"]["test"]["rmse"]
    assert csv_job["metrics"]["train"] == parquet_job["metrics"]["train"]
