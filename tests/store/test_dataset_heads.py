"""The per-process cache of dataset heads a submission validates against."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from store.dataset_heads import DatasetHeads
from store.errors import NotFound
from tests.store.conftest import Tenants


async def test_a_head_is_read_once_and_served_to_its_owner_and_admins(
    session_factory: async_sessionmaker[AsyncSession], tenants: Tenants
) -> None:
    heads = DatasetHeads()
    dataset = tenants.alice.dataset

    first = await heads.get(session_factory, dataset.id, reader=tenants.alice.reader)
    again = await heads.get(session_factory, dataset.id, reader=tenants.admin_reader)

    assert (first.id, first.owner_id, first.columns) == (dataset.id, dataset.owner_id, dataset.columns)
    assert again is first


async def test_another_users_dataset_is_not_found_whether_or_not_it_is_kept(
    session_factory: async_sessionmaker[AsyncSession], tenants: Tenants
) -> None:
    heads = DatasetHeads()
    dataset_id = tenants.alice.dataset.id
    with pytest.raises(NotFound):
        await heads.get(session_factory, dataset_id, reader=tenants.bob.reader)
    await heads.get(session_factory, dataset_id, reader=tenants.alice.reader)
    with pytest.raises(NotFound):
        await heads.get(session_factory, dataset_id, reader=tenants.bob.reader)
    with pytest.raises(NotFound):
        await heads.get(session_factory, "no-such-dataset", reader=tenants.alice.reader)


async def test_the_least_recently_used_head_makes_room(
    session_factory: async_sessionmaker[AsyncSession], tenants: Tenants
) -> None:
    heads = DatasetHeads(size=1)
    alice, bob = tenants.alice, tenants.bob
    kept = await heads.get(session_factory, alice.dataset.id, reader=alice.reader)
    await heads.get(session_factory, bob.dataset.id, reader=bob.reader)

    read_again = await heads.get(session_factory, alice.dataset.id, reader=alice.reader)

    assert read_again == kept and read_again is not kept
