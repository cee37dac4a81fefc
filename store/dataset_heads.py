"""Dataset heads kept in memory: a dataset's id, owner and columns never change.

Every job submission reads its dataset's columns before its transaction (to validate the
graph off the write lock); a process that submits many jobs against one dataset reads it
once. A deleted dataset may stay here: writers that name it rely on the foreign key instead
(``store.submission_writes.save_submitted_pipeline`` answers NotFound).
"""

from __future__ import annotations

from collections import OrderedDict

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from store.datasets import DatasetHead, get_dataset_head
from store.errors import NotFound
from store.reader import Reader

DEFAULT_SIZE = 1024


class DatasetHeads:
    """A bounded, least-recently-used map of dataset id to :class:`DatasetHead`.

    Args:
        size: How many heads to keep (a head holds a dataset's column list).
    """

    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        self._size = size
        self._heads: OrderedDict[str, DatasetHead] = OrderedDict()

    async def get(
        self, sessions: async_sessionmaker[AsyncSession], dataset_id: str, *, reader: Reader
    ) -> DatasetHead:
        """The head of ``dataset_id`` if ``reader`` may see it, read on first use.

        Raises:
            NotFound: missing (when not known here), or another user's (always).
        """
        head = self._heads.get(dataset_id)
        if head is None:
            async with sessions() as session:
                # Read whoever owns it, so that one entry serves every reader; scoped below.
                head = await get_dataset_head(session, dataset_id, reader=Reader.system())
            self._heads[dataset_id] = head
            if len(self._heads) > self._size:
                self._heads.popitem(last=False)
        else:
            self._heads.move_to_end(dataset_id)
        if not reader.may_see(head.owner_id):
            raise NotFound("dataset", dataset_id)
        return head
