"""Job listings on SQLite and PostgreSQL: metric sorts, cursors, search, latest job per node."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from store.datasets import create_dataset
from store.errors import InvalidInput
from store.job_listing import latest_job_per_node, list_jobs
from store.jobs import create_job, transition
from store.pipelines import get_pipeline, upsert_pipeline
from store.reader import Reader
from store.users import create_user


async def _seed(factory: async_sessionmaker[AsyncSession]) -> tuple[Reader, str, dict[float | None, str]]:
    async with factory.begin() as session:
        user, _ = await create_user(session, "carol")
        reader = Reader(user.id)
        dataset = await create_dataset(
            session,
            owner_id=user.id,
            name="d",
            storage_uri="datasets/d.csv",
            format="csv",
            n_rows=1,
            columns=[{"name": "x", "dtype": "int64"}],
            sha256="0" * 64,
        )
        pipeline = await upsert_pipeline(session, dataset_source_id=dataset.id, graph={"nodes": []}, reader=reader)
    jobs: dict[float | None, str] = {}
    for rmse in (0.4, None, 0.2, 0.4, 0.9):
        async with factory.begin() as session:
            made = await create_job(
                session,
                pipeline_id=pipeline.pipeline_id,
                node_id=f"n{len(jobs) % 2}",
                dataset_source_id=dataset.id,
                user_id=user.id,
                model_type="xgboost",
                hyperparameters={},
            )
            if rmse is not None:
                await transition(session, made.job.id, "running")
                metrics: dict[str, Any] = {"test": {"rmse": rmse}}
                await transition(session, made.job.id, "succeeded", changes={"metrics": metrics})
            jobs[rmse if rmse not in jobs else rmse + 1e-9] = made.job.id
    return reader, pipeline.pipeline_id, jobs


async def test_a_metric_sort_pages_through_ties_and_missing_values_exactly_once(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    reader, _, jobs = await _seed(session_factory)
    seen: list[str] = []
    cursor = None
    async with session_factory() as session:
        while True:
            page = await list_jobs(session, reader=reader, order_by="rmse", limit=2, cursor=cursor)
            seen += [r.id for r in page.items]
            cursor = page.next_cursor
            if cursor is None:
                break
    assert len(seen) == len(set(seen)) == 5
    assert seen[0] == jobs[0.2]
    assert set(seen[1:3]) == {jobs[0.4], jobs[0.4 + 1e-9]}
    assert seen[3:] == [jobs[0.9], jobs[None]]


async def test_another_reader_sees_nothing_and_the_latest_job_per_node_is_found(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    reader, pipeline_id, jobs = await _seed(session_factory)
    async with session_factory() as session:
        assert (await list_jobs(session, reader=Reader("someone-else"))).items == []
        latest = await latest_job_per_node(session, pipeline_id, reader)
    assert {(j.node_id, j.id) for j in latest} == {("n0", jobs[0.9]), ("n1", jobs[0.4 + 1e-9])}


async def test_the_latest_job_per_node_of_some_kinds_skips_a_newer_job_of_another_kind(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    reader, pipeline_id, jobs = await _seed(session_factory)
    async with session_factory.begin() as session:
        pipeline = await get_pipeline(session, pipeline_id, reader=reader)
        predicted = await create_job(
            session, pipeline_id=pipeline.pipeline_id, node_id="n0", dataset_source_id=pipeline.dataset_source_id,
            user_id=reader.user_id, model_type="xgboost", hyperparameters={}, kind="predictions",
        )
    async with session_factory() as session:
        every = await latest_job_per_node(session, pipeline_id, reader)
        trained = await latest_job_per_node(session, pipeline_id, reader, ("training", "validation"))
    assert {(j.node_id, j.id) for j in every} == {("n0", predicted.job.id), ("n1", jobs[0.4 + 1e-9])}
    assert {(j.node_id, j.id) for j in trained} == {("n0", jobs[0.9]), ("n1", jobs[0.4 + 1e-9])}


async def test_the_tag_filter_and_the_text_search_narrow_the_listing(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async with session_factory.begin() as session:
        user, _ = await create_user(session, "dora")
        reader = Reader(user.id)
        dataset = await create_dataset(
            session, owner_id=user.id, name="d", storage_uri="datasets/d.csv", format="csv", n_rows=1,
            columns=[{"name": "x", "dtype": "int64"}], sha256="0" * 64,
        )
        pipeline = await upsert_pipeline(
            session, dataset_source_id=dataset.id, graph={"nodes": []}, reader=reader, name="Churn Forecast"
        )
        ids: dict[str, str] = {}
        for node_id, tag, model in (("alpha", "baseline", "xgboost"), ("beta", "tuned", "lightgbm")):
            made = await create_job(
                session, pipeline_id=pipeline.pipeline_id, node_id=node_id, dataset_source_id=dataset.id,
                user_id=user.id, model_type=model, hyperparameters={},
                config={"experiment_tag": tag, "description": f"{tag} run"},
            )
            ids[node_id] = made.job.id

    async def listed(**filters: Any) -> set[str]:
        async with session_factory() as session:
            page = await list_jobs(session, reader=reader, **filters)
        return {r.id for r in page.items}

    assert await listed(tag="tuned") == {ids["beta"]}
    assert await listed(tag="tune") == set()  # a tag matches exactly
    assert await listed(text="LIGHTGBM") == {ids["beta"]}
    assert await listed(text="baseline") == {ids["alpha"]}
    assert await listed(text="churn forecast") == set(ids.values())  # the pipeline's name
    assert await listed(text="alp", tag="baseline") == {ids["alpha"]}
    assert await listed(text="nothing") == set()


async def test_the_kind_filter_takes_one_or_several_kinds_and_names_the_field_of_a_bad_one(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    reader, pipeline_id, jobs = await _seed(session_factory)
    async with session_factory.begin() as session:
        trained = (await list_jobs(session, reader=reader, limit=1)).items[0]
        made = await create_job(
            session, pipeline_id=pipeline_id, node_id="v", dataset_source_id=trained.dataset_source_id,
            user_id=reader.user_id or "", model_type="xgboost", hyperparameters={}, kind="validation",
        )
    async with session_factory() as session:
        assert [r.id for r in (await list_jobs(session, reader=reader, kind="validation")).items] == [made.job.id]
        only_training = await list_jobs(session, reader=reader, kind=["training"])
        assert {r.id for r in only_training.items} == set(jobs.values())
        both = await list_jobs(session, reader=reader, kind=["training", "validation"])
        assert len(both.items) == len(jobs) + 1
        assert (await list_jobs(session, reader=reader, kind="predictions")).items == []
        with pytest.raises(InvalidInput) as caught:
            await list_jobs(session, reader=reader, kind=["training", "serving"])
        assert caught.value.field == "kind"


async def test_oldest_first_pages_in_creation_order_and_a_cursor_only_fits_its_own_order(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    reader, _, jobs = await _seed(session_factory)
    seen: list[str] = []
    cursor = None
    async with session_factory() as session:
        while True:
            page = await list_jobs(session, reader=reader, order_by="created_at", limit=2, cursor=cursor)
            seen += [r.id for r in page.items]
            cursor = page.next_cursor
            if cursor is None:
                break
        newest = await list_jobs(session, reader=reader, limit=2)
        assert newest.next_cursor is not None
        for order in ("created_at", "rmse"):
            with pytest.raises(InvalidInput) as caught:
                await list_jobs(session, reader=reader, order_by=order, cursor=newest.next_cursor)
            assert caught.value.field == "cursor"
        with pytest.raises(InvalidInput) as caught:
            await list_jobs(session, reader=reader, order_by="colour")
        assert caught.value.field == "order_by"
    assert seen == list(jobs.values())
