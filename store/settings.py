"""Configuration: ``config.toml`` defaults, an optional ``MLW_CONFIG`` file, ``MLW_*`` overrides.

Loaded once into frozen dataclasses; nothing else in the project reads environment
variables. An unknown key or a bad value raises :class:`ConfigError` naming the key.
Precedence (lowest first): the dataclass defaults (kept equal to the repository's
``config.toml`` by a test), ``config.toml`` at the repository root when present, the
file named by ``MLW_CONFIG``, then ``MLW_<SECTION>_<KEY>`` variables.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from store.errors import ConfigError

REPO_CONFIG = Path(__file__).resolve().parent.parent / "config.toml"

# Variables that are not configuration keys but are allowed to carry the MLW_ prefix.
_RESERVED_ENV = {"MLW_CONFIG"}
_RESERVED_ENV_PREFIXES = ("MLW_TEST_",)
_ENV_ALIASES = {"MLW_DATA_DIR": ("data", "data_dir")}


def _positive(value: float) -> str | None:
    return None if value > 0 else "must be greater than 0"


def _non_negative(value: float) -> str | None:
    return None if value >= 0 else "must be 0 or greater"


def _port(value: int) -> str | None:
    return None if 0 <= value <= 65535 else "must be a TCP port between 0 and 65535"


def _db_url(value: str) -> str | None:
    if value == "" or value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
        return None
    return "must start with sqlite+aiosqlite:// or postgresql+asyncpg:// (or be empty for the default)"


def _redis_url(value: str) -> str | None:
    if value == "" or value.startswith(("redis://", "rediss://", "unix://")):
        return None
    return "must be a redis:// URL (or empty to start the embedded Redis)"


_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


def _storage_root(value: str) -> str | None:
    if "://" not in value:
        return None  # a path (empty: the default)
    if not value.startswith("s3://"):
        return "must be a path or an s3://bucket/prefix URL"
    bucket = value.removeprefix("s3://").partition("/")[0]
    if not _BUCKET.match(bucket):
        return f"{bucket!r} is not a valid S3 bucket name (3-63 lowercase letters, digits, dots, hyphens)"
    return None


def _addressing(value: str) -> str | None:
    return None if value in ("auto", "path", "virtual") else "must be auto, path or virtual"


def _part_size(value: int) -> str | None:
    return None if 5 <= value <= 5120 else "must be between 5 and 5120 (MB): S3's limits for a multipart part"


def _check(fn: Callable[[Any], str | None]) -> dict[str, Any]:
    return {"check": fn}


@dataclasses.dataclass(frozen=True)
class ServerSettings:
    host: str = "127.0.0.1"
    port: int = dataclasses.field(default=8080, metadata=_check(_port))
    max_body_mb: int = dataclasses.field(default=4, metadata=_check(_positive))
    cpu_threads: int = dataclasses.field(default=2, metadata=_check(_positive))
    cpu_tasks_per_user: int = dataclasses.field(default=1, metadata=_check(_positive))
    cpu_queue_per_user: int = dataclasses.field(default=32, metadata=_check(_non_negative))
    auth_cache_ttl_s: float = dataclasses.field(default=5.0, metadata=_check(_non_negative))


@dataclasses.dataclass(frozen=True)
class DatabaseSettings:
    url: str = dataclasses.field(default="", metadata=_check(_db_url))
    echo: bool = False
    pool_size: int = dataclasses.field(default=20, metadata=_check(_positive))
    max_overflow: int = dataclasses.field(default=10, metadata=_check(_non_negative))
    pool_timeout_s: float = dataclasses.field(default=10.0, metadata=_check(_positive))
    statement_timeout_s: float = dataclasses.field(default=30.0, metadata=_check(_non_negative))


@dataclasses.dataclass(frozen=True)
class RedisSettings:
    url: str = dataclasses.field(default="", metadata=_check(_redis_url))


@dataclasses.dataclass(frozen=True)
class WorkerSettings:
    concurrency: int = dataclasses.field(default=2, metadata=_check(_positive))
    ml_threads: int = dataclasses.field(default=1, metadata=_check(_positive))
    visibility_timeout_s: int = dataclasses.field(default=90000, metadata=_check(_positive))
    send_events: bool = True
    remote_control: bool = True


@dataclasses.dataclass(frozen=True)
class JobsSettings:
    default_max_runtime_s: float = dataclasses.field(default=3600.0, metadata=_check(_positive))
    max_runtime_limit_s: float = dataclasses.field(default=86400.0, metadata=_check(_positive))
    heartbeat_s: float = dataclasses.field(default=2.0, metadata=_check(_positive))
    stale_after_s: float = dataclasses.field(default=30.0, metadata=_check(_positive))
    max_attempts: int = dataclasses.field(default=3, metadata=_check(_positive))
    cancel_grace_s: float = dataclasses.field(default=10.0, metadata=_check(_positive))
    one_active_per_node: bool = True
    max_active_per_user: int = dataclasses.field(default=20, metadata=_check(_positive))
    max_running_per_user: int = dataclasses.field(default=1, metadata=_check(_non_negative))
    progress_interval_s: float = dataclasses.field(default=0.25, metadata=_check(_non_negative))
    reaper_interval_s: float = dataclasses.field(default=5.0, metadata=_check(_positive))
    queued_resend_after_s: float = dataclasses.field(default=300.0, metadata=_check(_positive))


@dataclasses.dataclass(frozen=True)
class DataSettings:
    data_dir: str = ".mlw-data"
    max_full_rows: int = dataclasses.field(default=1_000_000, metadata=_check(_positive))
    sample_rows: int = dataclasses.field(default=100_000, metadata=_check(_positive))
    max_upload_mb: int = dataclasses.field(default=200, metadata=_check(_positive))
    max_columns: int = dataclasses.field(default=2000, metadata=_check(_positive))
    max_bytes_per_user: int = dataclasses.field(default=5 * 1024**3, metadata=_check(_non_negative))
    root: str = dataclasses.field(default="", metadata=_check(_storage_root))
    temp_max_age_s: float = dataclasses.field(default=86400.0, metadata=_check(_non_negative))
    temp_sweep_interval_s: float = dataclasses.field(default=600.0, metadata=_check(_positive))


@dataclasses.dataclass(frozen=True)
class HubSettings:
    max_sockets_per_user: int = dataclasses.field(default=100, metadata=_check(_non_negative))
    snapshot_warnings_per_job: int = dataclasses.field(default=20, metadata=_check(_non_negative))


@dataclasses.dataclass(frozen=True)
class InsightsSettings:
    curves: bool = True
    explain: bool = True
    explain_rows: int = dataclasses.field(default=2000, metadata=_check(_positive))
    explain_budget_s: float = dataclasses.field(default=60.0, metadata=_check(_positive))
    permutation_repeats: int = dataclasses.field(default=5, metadata=_check(_positive))


@dataclasses.dataclass(frozen=True)
class ArtifactsSettings:
    root: str = dataclasses.field(default="", metadata=_check(_storage_root))


@dataclasses.dataclass(frozen=True)
class S3Settings:
    """Object storage for ``s3://`` roots. Empty values are left to boto3's defaults: the
    standard ``AWS_*`` variables, shared config files, instance roles."""

    endpoint_url: str = ""
    region: str = ""
    access_key_id: str = ""
    secret_access_key: str = dataclasses.field(default="", repr=False)
    session_token: str = dataclasses.field(default="", repr=False)
    addressing_style: str = dataclasses.field(default="auto", metadata=_check(_addressing))
    part_size_mb: int = dataclasses.field(default=8, metadata=_check(_part_size))
    presigned_downloads: bool = False
    presign_expiry_s: int = dataclasses.field(default=300, metadata=_check(_positive))


@dataclasses.dataclass(frozen=True)
class Settings:
    """The whole configuration. Build it with :func:`load_settings`."""

    server: ServerSettings = ServerSettings()
    database: DatabaseSettings = DatabaseSettings()
    redis: RedisSettings = RedisSettings()
    worker: WorkerSettings = WorkerSettings()
    jobs: JobsSettings = JobsSettings()
    data: DataSettings = DataSettings()
    hub: HubSettings = HubSettings()
    artifacts: ArtifactsSettings = ArtifactsSettings()
    insights: InsightsSettings = InsightsSettings()
    s3: S3Settings = S3Settings()

    @property
    def data_dir(self) -> Path:
        """The absolute data directory."""
        return Path(self.data.data_dir)

    @property
    def database_url(self) -> str:
        """``database.url``, or the SQLite file in the data directory when it is empty."""
        return self.database.url or f"sqlite+aiosqlite:///{self.data_dir / 'mlw.db'}"

    @property
    def data_root(self) -> str:
        """Where uploaded datasets are stored: ``data.root`` (a path or ``s3://`` URL), or
        the data directory when it is empty."""
        return self.data.root or str(self.data_dir)

    @property
    def artifacts_url(self) -> str:
        """Where models, model cards and reports are stored: ``artifacts.root`` (a path or
        ``s3://`` URL), or the datasets' root when it is empty."""
        return self.artifacts.root or self.data_root

    @property
    def artifacts_root(self) -> Path:
        """The artifacts directory of a local store (tests and local tools; S3 has none)."""
        if self.artifacts_url.startswith("s3://"):
            raise ConfigError("artifacts.root", "is an s3:// URL: open it through store.blobs, not as a path")
        return Path(self.artifacts_url)


_T = TypeVar("_T")


class _EnvText(str):
    """A value read from an environment variable, where every value is text."""

    __slots__ = ()



BACKSTOP_MARGIN_S = 30.0
"""Slack of the broker's time limit beyond a job's runtime and two cancel grace periods."""


def backstop_s(max_runtime_s: float, cancel_grace_s: float) -> float:
    """The broker-level time limit of a job's message, a backstop behind the runner's checkpoints:
    its runtime, then a grace period to stop cooperatively and one to be forced, then a margin."""
    return max_runtime_s + 2 * cancel_grace_s + BACKSTOP_MARGIN_S

def _coerce(key: str, kind: Any, value: Any) -> Any:
    """Convert a TOML or environment value to the field's type, or raise naming ``key``."""
    from_env = isinstance(value, _EnvText)
    if kind is bool:
        if isinstance(value, bool):
            return value
        if from_env and value.strip().lower() in {"1", "true", "yes", "on"}:
            return True
        if from_env and value.strip().lower() in {"0", "false", "no", "off"}:
            return False
        raise ConfigError(key, f"expected true or false, got {value!r}")
    if kind is int:
        if isinstance(value, bool):
            raise ConfigError(key, f"expected an integer, got {value!r}")
        if isinstance(value, int):
            return value
        if from_env:
            try:
                return int(value.strip())
            except ValueError:
                pass
        raise ConfigError(key, f"expected an integer, got {value!r}")
    if kind is float:
        if isinstance(value, bool):
            raise ConfigError(key, f"expected a number, got {value!r}")
        number: float | None = None
        if isinstance(value, int | float):
            number = float(value)
        elif from_env:
            try:
                number = float(value.strip())
            except ValueError:
                number = None
        if number is None or not math.isfinite(number):
            raise ConfigError(key, f"expected a finite number, got {value!r}")
        return number
    if not isinstance(value, str):
        raise ConfigError(key, f"expected a string, got {value!r}")
    return str(value)


def _build(section_cls: type[_T], section: str, values: Mapping[str, Any]) -> _T:
    fields = {f.name: f for f in dataclasses.fields(section_cls)}  # type: ignore[arg-type]
    kwargs: dict[str, Any] = {}
    for name, raw in values.items():
        key = f"{section}.{name}"
        if name not in fields:
            raise ConfigError(key, f"unknown key; known keys of [{section}]: {', '.join(sorted(fields))}")
        field = fields[name]
        value = _coerce(key, {"bool": bool, "int": int, "float": float, "str": str}[str(field.type)], raw)
        check = field.metadata.get("check")
        problem = check(value) if check else None
        if problem:
            raise ConfigError(key, f"{problem} (got {value!r})")
        kwargs[name] = value
    return section_cls(**kwargs)


def _merge(into: dict[str, dict[str, Any]], source: Mapping[str, Any], origin: str) -> None:
    sections = {f.name for f in dataclasses.fields(Settings)}
    for section, values in source.items():
        if section not in sections:
            raise ConfigError(section, f"unknown section in {origin}; known: {', '.join(sorted(sections))}")
        if not isinstance(values, Mapping):
            raise ConfigError(section, f"expected a table in {origin}")
        into.setdefault(section, {}).update(values)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError("MLW_CONFIG", f"no such file: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("MLW_CONFIG", f"{path} is not valid TOML: {exc}") from None


def _env_overrides(environ: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    known = {
        f"MLW_{section.name.upper()}_{field.name.upper()}": (section.name, field.name)
        for section in dataclasses.fields(Settings)
        for field in dataclasses.fields(section.default)  # type: ignore[arg-type]
    }
    known.update(_ENV_ALIASES)
    out: dict[str, dict[str, Any]] = {}
    for name, value in environ.items():
        if not name.startswith("MLW_") or name in _RESERVED_ENV or name.startswith(_RESERVED_ENV_PREFIXES):
            continue
        if name not in known:
            raise ConfigError(name, "unknown configuration variable")
        section, key = known[name]
        out.setdefault(section, {})[key] = _EnvText(value)
    return out


def load_settings(
    environ: Mapping[str, str] | None = None,
    *,
    config_file: str | Path | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
    base_dir: Path | None = None,
) -> Settings:
    """Load the configuration once.

    Args:
        environ: The environment to read (``os.environ`` when omitted).
        config_file: A file to read instead of ``MLW_CONFIG``.
        overrides: Values applied last, e.g. from command-line flags
            (``{"server": {"port": 9000}}``).
        base_dir: Where relative paths are resolved (the working directory by default).

    Raises:
        ConfigError: an unknown key or a bad value; the error names the key.
    """
    env = os.environ if environ is None else environ
    merged: dict[str, dict[str, Any]] = {}
    if REPO_CONFIG.exists():
        _merge(merged, _read_toml(REPO_CONFIG), str(REPO_CONFIG))
    extra = config_file if config_file is not None else env.get("MLW_CONFIG") or None
    if extra:
        _merge(merged, _read_toml(Path(extra)), str(extra))
    _merge(merged, _env_overrides(env), "the environment")
    if overrides:
        _merge(merged, overrides, "overrides")
    sections = {f.name: f.type for f in dataclasses.fields(Settings)}
    cls_by_name = {
        "server": ServerSettings, "database": DatabaseSettings, "redis": RedisSettings,
        "worker": WorkerSettings, "jobs": JobsSettings, "data": DataSettings, "hub": HubSettings,
        "artifacts": ArtifactsSettings, "insights": InsightsSettings, "s3": S3Settings,
    }
    assert set(cls_by_name) == set(sections)
    built: dict[str, Any] = {name: _build(cls, name, merged.get(name, {})) for name, cls in cls_by_name.items()}
    settings = Settings(**built)
    return _finish(settings, base_dir or Path.cwd())


def _resolved_root(base: Path, root: str) -> str:
    """An absolute path for a relative one; URLs and the empty default as they are."""
    return root if not root or "://" in root else str((base / root).resolve())


def _finish(settings: Settings, base: Path) -> Settings:
    """Resolve relative paths and check rules that span several keys."""
    data_dir = (base / settings.data.data_dir).resolve()
    artifacts = dataclasses.replace(settings.artifacts, root=_resolved_root(base, settings.artifacts.root))
    data = dataclasses.replace(settings.data, data_dir=str(data_dir), root=_resolved_root(base, settings.data.root))
    jobs, worker = settings.jobs, settings.worker
    if jobs.stale_after_s <= jobs.heartbeat_s:
        raise ConfigError("jobs.stale_after_s", "must be greater than jobs.heartbeat_s")
    # Only a reaper pass re-sends a queued job: a period no longer than the pass interval
    # would re-send it on every pass instead of once per period.
    if jobs.queued_resend_after_s <= jobs.reaper_interval_s:
        raise ConfigError("jobs.queued_resend_after_s", "must be greater than jobs.reaper_interval_s")
    if jobs.default_max_runtime_s > jobs.max_runtime_limit_s:
        raise ConfigError("jobs.default_max_runtime_s", "must not exceed jobs.max_runtime_limit_s")
    # A message still running when the visibility timeout ends would be delivered twice.
    if worker.visibility_timeout_s <= backstop_s(jobs.max_runtime_limit_s, jobs.cancel_grace_s):
        raise ConfigError(
            "worker.visibility_timeout_s",
            "must exceed jobs.max_runtime_limit_s + 2 * jobs.cancel_grace_s + 30, or long jobs would be redelivered",
        )
    if settings.data.sample_rows > settings.data.max_full_rows:
        raise ConfigError("data.sample_rows", "must not exceed data.max_full_rows")
    return dataclasses.replace(settings, data=data, artifacts=artifacts)
