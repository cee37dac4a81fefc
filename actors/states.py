"""The job state machine, as the actors see it.

The store enforces these rules on every status write, so the single definition lives in
``store.states``; this module re-exports it for code on the actors' side.
"""

from __future__ import annotations

from store.errors import IllegalTransition
from store.states import ACTIVE, TERMINAL, TRANSITIONS, JobStatus, can_transition, check_transition, parse_status

__all__ = [
    "ACTIVE",
    "TERMINAL",
    "TRANSITIONS",
    "IllegalTransition",
    "JobStatus",
    "can_transition",
    "check_transition",
    "parse_status",
]
