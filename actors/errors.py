"""Errors raised by the actors package: the ML engine and the job services.

One root, :class:`ActorsError`. Every failure the engine reports is an :class:`ModelError` carrying a stable ``code``
(stored on the job as ``error_code``), the dotted ``field`` path of the offending input
when one exists, a human ``message`` and JSON-ready ``details``.
"""

from __future__ import annotations

from typing import Any


class ActorsError(Exception):
    """Base class of every error the ``actors`` package raises on purpose."""

    code: str = "actors_error"


class ModelError(ActorsError):
    """Raised when the ML engine cannot validate or run a training job.

    Attributes:
        code: Stable error code stored on the job (``invalid_pipeline``, ``cancelled``...).
        field: Dotted path of the offending input field, or None.
        message: Human-readable explanation.
        details: JSON-ready extra information.
    """

    code: str = "training_error"

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        details: dict[str, Any] | None = None,
        code: str | None = None,
    ) -> None:
        self.code = code or type(self).code
        self.field: str | None = field
        self.message: str = message
        self.details: dict[str, Any] = dict(details or {})
        super().__init__(f"{field}: {message}" if field else message)

    def to_dict(self) -> dict[str, Any]:
        """The error as JSON-ready data: ``{code, message, field, details}``."""
        return {"code": self.code, "message": self.message, "field": self.field, "details": self.details}


class InvalidGraph(ModelError):
    """Raised when the pipeline graph is malformed: unknown node type or node id, a cycle,
    a dangling edge, missing or several dataset sources, or no ``train_test_split``
    upstream of the training node."""

    code = "invalid_pipeline"


class InvalidNodeConfig(ModelError):
    """Raised when a node's config is invalid: unknown key, wrong type, out-of-range
    value, unknown column, or a column of the wrong kind for the step."""

    code = "invalid_config"


class InvalidHyperparameter(ModelError):
    """Raised when a hyperparameter is unknown, of the wrong type, out of range, not
    finite, or outside its list of choices."""

    code = "invalid_hyperparameter"


class DatasetError(ModelError):
    """Raised when the dataset cannot be read, is empty, does not match its recorded
    sha256, or a frame given for prediction lacks a required column."""

    code = "dataset_error"


class TableError(DatasetError):
    """Raised when a data file is malformed: a record with the wrong field count, a bad
    header, text that is not UTF-8, too many columns. ``details`` names the line or column
    where known; the upload answers it as a 422 on the ``file`` field."""

    code = "parse_error"


class TrainingError(ModelError):
    """Raised when fitting or evaluating the model fails for a reason not caused by the
    job's configuration (e.g. the library rejects the data)."""

    code = "training_error"


class ArtifactError(ModelError):
    """Raised when an artifact cannot be written, is missing, or its sha256 does not
    match the recorded one (it is then never unpickled)."""

    code = "artifact_error"


class JobStopped(ModelError):
    """Raised when ``should_stop()`` asked the engine to stop; base of the two reasons."""

    code = "cancelled"


class JobCancelled(JobStopped):
    """Raised when ``should_stop()`` returned ``"cancelled"`` at a checkpoint."""

    code = "cancelled"


class DeadlineExceeded(JobStopped):
    """Raised when ``should_stop()`` returned ``"timeout"`` at a checkpoint."""

    code = "timeout"


class ServiceError(ActorsError):
    """Base of the errors the job services (submit, cancel) raise besides engine errors.

    Attributes:
        code: Stable error code for the API's error body.
        message: Human-readable explanation.
        details: JSON-ready extra information.
    """

    code: str = "service_error"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = dict(details or {})


class ActiveJobConflict(ServiceError):
    """Raised when a node already has an active job and ``jobs.one_active_per_node`` is on;
    ``details["active_job_id"]`` names that job."""

    code = "active_job_exists"


class QuotaExceeded(ServiceError):
    """Raised when a user already has ``jobs.max_active_per_user`` active jobs."""

    code = "too_many_active_jobs"


class IdempotencyKeyReused(ServiceError):
    """Raised when an idempotency key comes back with another submission than the one that
    created its job; ``details["job_id"]`` names that job."""

    code = "idempotency_key_reused"


class BrokerUnavailable(ServiceError):
    """Raised when a job was recorded but its message could not be sent; the job has been
    failed with error_code ``broker_unavailable`` (``details["job_id"]``)."""

    code = "broker_unavailable"
