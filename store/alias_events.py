"""The ``alias.changed`` event: an alias of a node was set, moved or removed.

Built here beside the history row it describes, like every job event is built in
``store.jobs._event``; published after its transaction commits on the pipeline owner's
channel (``actors.jobs.alias_changes``). It is not persisted as an event and carries no
``job_id`` or ``seq``: the history table (``model_alias_history``) is its durable record,
and a client that missed one re-reads the node's aliases.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from store.models import ModelAliasHistory

ALIAS_CHANGED = "alias.changed"

Action = Literal["set", "move", "remove"]


def change_action(entry: ModelAliasHistory) -> Action:
    """What a history row records: a first ``set``, a ``move`` from one version to another, or a ``remove``."""
    if entry.previous_version is None:
        return "set"
    if entry.version is None:
        return "remove"
    return "move"


def alias_event(entry: ModelAliasHistory) -> dict[str, Any]:
    """The event of one committed alias change (its history row)."""
    at = entry.changed_at if entry.changed_at.tzinfo else entry.changed_at.replace(tzinfo=dt.UTC)
    return {
        "type": ALIAS_CHANGED,
        "pipeline_id": entry.pipeline_id,
        "node_id": entry.node_id,
        "alias": entry.alias,
        "action": change_action(entry),
        "from_version": entry.previous_version,
        "to_version": entry.version,
        "changed_by": entry.changed_by,
        "at": at.astimezone(dt.UTC).isoformat(),
    }
