"""Dataset deletion, the storage quota and exact previews on both databases (SQLite and PostgreSQL).

The scenarios are those of ``tests/server/test_dataset_deletion.py`` and
``tests/server/test_dataset_numbers.py``, collected here again
with this package's ``settings`` fixture, which runs each of them on both databases (the
row lock of ``delete_dataset`` and of the quota check only exist on PostgreSQL, and there the
stored preview's floats go through JSONB).
"""

from __future__ import annotations

from tests.server.test_dataset_deletion import (
    test_a_dataset_with_a_queued_job_or_a_pipeline_is_refused_with_409_naming_them,
    test_another_user_cannot_delete_a_dataset_and_sees_404,
    test_the_owner_deletes_a_dataset_and_its_stored_file,
    test_uploads_beyond_the_storage_quota_are_413_until_a_dataset_is_deleted,
)
from tests.server.test_dataset_numbers import test_every_number_is_stored_and_previewed_exactly_as_float_reads_its_text

__all__ = [
    "test_a_dataset_with_a_queued_job_or_a_pipeline_is_refused_with_409_naming_them",
    "test_another_user_cannot_delete_a_dataset_and_sees_404",
    "test_every_number_is_stored_and_previewed_exactly_as_float_reads_its_text",
    "test_the_owner_deletes_a_dataset_and_its_stored_file",
    "test_uploads_beyond_the_storage_quota_are_413_until_a_dataset_is_deleted",
]
