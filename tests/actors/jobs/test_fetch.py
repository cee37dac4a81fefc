"""Training on object storage: the worker reads the dataset and writes the model through S3 (moto)."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

from actors.jobs.runner import Outcome
from actors.ml.artifacts import load_artifact
from store.blobs import open_blobs
from store.datasets import create_dataset
from store.settings import load_settings
from tests.job_fixtures import JobWorld, breast_cancer_frame, graph_for
from tests.s3_fixtures import S3Root


async def _on_s3(world: JobWorld, root: S3Root, tmp_path: Path, body: bytes | None = None) -> str:
    """Point the world's storage at the bucket and store the breast-cancer CSV there; returns its name."""
    s3 = load_settings({}, overrides=root.overrides(), base_dir=tmp_path)
    settings = dataclasses.replace(world.ctx.settings, data=dataclasses.replace(world.ctx.settings.data,
                                   root=s3.data.root), s3=s3.s3)
    world.ctx.settings, world.ctx.blobs = settings, open_blobs(settings)
    frame = breast_cancer_frame()
    text = frame.to_csv(index=False).encode()
    stored = world.ctx.storage.data.put_bytes("datasets/bc.csv", text if body is None else body)
    async with world.sessions.begin() as session:
        row = await create_dataset(
            session, owner_id=world.reader.user_id or "", name="bc-on-s3", storage_uri=stored.uri, format="csv",
            n_rows=len(frame), columns=[{"name": str(c), "dtype": str(t)} for c, t in frame.dtypes.items()],
            sha256=hashlib.sha256(text).hexdigest(),
        )
    world.datasets["s3"] = row
    return "s3"


async def test_a_job_trains_on_a_dataset_in_the_bucket_and_stores_its_model_there(
    job_world: JobWorld, s3_root: S3Root, tmp_path: Path
) -> None:
    name = await _on_s3(job_world, s3_root, tmp_path)
    job = await job_world.submit(graph_for("logistic_regression"), dataset=name)

    assert await job_world.run(job.id) is Outcome.SUCCEEDED

    done = await job_world.job(job.id)
    expected_uri = f"{s3_root.url}/uploads/models/{done.pipeline_id}/{job.id}.joblib"
    assert done.model_artifact_uri == expected_uri
    assert f"mlw/uploads/models/{done.pipeline_id}/{job.id}.joblib" in s3_root.object_keys()
    model = load_artifact(job_world.ctx.storage.artifacts, expected_uri, done.artifact_sha256 or "")
    assert hasattr(model, "predict")
    assert not any("/_tmp/" in key for key in s3_root.object_keys()), "no temporary object stays"
    scratch = job_world.ctx.storage.scratch
    assert not scratch.exists() or list(scratch.iterdir()) == [], "the downloaded dataset is removed"


async def test_a_dataset_object_that_does_not_match_its_sha256_fails_the_job(
    job_world: JobWorld, s3_root: S3Root, tmp_path: Path
) -> None:
    name = await _on_s3(job_world, s3_root, tmp_path, body=b"a,target\n1,0\n2,1\n")
    job = await job_world.submit(graph_for("logistic_regression"), dataset=name)

    assert await job_world.run(job.id) is Outcome.FAILED

    done = await job_world.job(job.id)
    assert done.error_code == "dataset_error"
    assert "sha256" in (done.error_message or "")
    assert done.model_version is None


async def test_a_dataset_object_gone_from_the_bucket_fails_the_job_clearly(
    job_world: JobWorld, s3_root: S3Root, tmp_path: Path
) -> None:
    name = await _on_s3(job_world, s3_root, tmp_path)
    job_world.ctx.storage.data.delete("datasets/bc.csv")
    job = await job_world.submit(graph_for("logistic_regression"), dataset=name)

    assert await job_world.run(job.id) is Outcome.FAILED

    done = await job_world.job(job.id)
    assert done.error_code == "dataset_error"
    assert "storage" in (done.error_message or "")
