from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

import pytest

from store.errors import ConfigError
from store.settings import REPO_CONFIG, Settings, load_settings


def test_config_toml_holds_exactly_the_built_in_defaults() -> None:
    with REPO_CONFIG.open("rb") as fh:
        on_disk = tomllib.load(fh)
    defaults = dataclasses.asdict(Settings())
    assert on_disk == defaults


def test_defaults_resolve_the_database_and_artifacts_into_the_data_dir(tmp_path: Path) -> None:
    settings = load_settings({}, base_dir=tmp_path)
    assert settings.data_dir == tmp_path / ".mlw-data"
    assert settings.database_url == f"sqlite+aiosqlite:///{tmp_path / '.mlw-data' / 'mlw.db'}"
    assert settings.artifacts_root == tmp_path / ".mlw-data"


def test_settings_are_frozen() -> None:
    settings = load_settings({})
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.jobs.max_attempts = 9  # type: ignore[misc]


def test_environment_variables_override_single_keys(tmp_path: Path) -> None:
    env = {
        "MLW_DATABASE_URL": "postgresql+asyncpg://u@h/db",
        "MLW_REDIS_URL": "redis://127.0.0.1:6380/1",
        "MLW_DATA_DIR": str(tmp_path / "d"),
        "MLW_JOBS_MAX_ATTEMPTS": "5",
        "MLW_JOBS_ONE_ACTIVE_PER_NODE": "false",
        "MLW_JOBS_HEARTBEAT_S": "0.5",
    }
    settings = load_settings(env)
    assert settings.database_url == "postgresql+asyncpg://u@h/db"
    assert settings.redis.url == "redis://127.0.0.1:6380/1"
    assert settings.data_dir == tmp_path / "d"
    assert settings.jobs.max_attempts == 5
    assert settings.jobs.one_active_per_node is False
    assert settings.jobs.heartbeat_s == 0.5


def test_a_config_file_named_by_mlw_config_overrides_the_defaults(tmp_path: Path) -> None:
    extra = tmp_path / "prod.toml"
    extra.write_text('[server]\nport = 9001\n[jobs]\nmax_active_per_user = 3\n')
    settings = load_settings({"MLW_CONFIG": str(extra), "MLW_SERVER_PORT": "9002"})
    assert settings.jobs.max_active_per_user == 3
    assert settings.server.port == 9002  # the environment wins over the file


def test_overrides_win_over_everything() -> None:
    settings = load_settings({"MLW_SERVER_PORT": "9002"}, overrides={"server": {"port": 9100}})
    assert settings.server.port == 9100


@pytest.mark.parametrize(
    ("env", "key"),
    [
        ({"MLW_JOBS_MAX_ATTEMPTS": "three"}, "jobs.max_attempts"),
        ({"MLW_JOBS_MAX_ATTEMPTS": "0"}, "jobs.max_attempts"),
        ({"MLW_SERVER_PORT": "70000"}, "server.port"),
        ({"MLW_JOBS_ONE_ACTIVE_PER_NODE": "maybe"}, "jobs.one_active_per_node"),
        ({"MLW_JOBS_HEARTBEAT_S": "nan"}, "jobs.heartbeat_s"),
        ({"MLW_DATABASE_URL": "mysql://x"}, "database.url"),
        ({"MLW_REDIS_URL": "http://x"}, "redis.url"),
        ({"MLW_JOBS_STALE_AFTER_S": "1", "MLW_JOBS_HEARTBEAT_S": "2"}, "jobs.stale_after_s"),
        ({"MLW_JOBS_QUEUED_RESEND_AFTER_S": "0"}, "jobs.queued_resend_after_s"),
        ({"MLW_JOBS_QUEUED_RESEND_AFTER_S": "5", "MLW_JOBS_REAPER_INTERVAL_S": "5"}, "jobs.queued_resend_after_s"),
        ({"MLW_DATA_SAMPLE_ROWS": "10", "MLW_DATA_MAX_FULL_ROWS": "5"}, "data.sample_rows"),
        ({"MLW_WORKER_VISIBILITY_TIMEOUT_S": "60"}, "worker.visibility_timeout_s"),
        ({"MLW_NOT_A_KEY": "1"}, "MLW_NOT_A_KEY"),
    ],
)
def test_a_bad_value_or_unknown_variable_is_an_error_naming_the_key(env: dict[str, str], key: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(env)
    assert info.value.key == key
    assert key in str(info.value)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[jobs]\nmax_atempts = 3\n", "jobs.max_atempts"),
        ("[nope]\nx = 1\n", "nope"),
        ('[server]\nport = "80"\n', "server.port"),
        ("[jobs]\none_active_per_node = 1\n", "jobs.one_active_per_node"),
    ],
)
def test_an_unknown_key_or_wrong_type_in_a_file_is_an_error_naming_the_key(
    tmp_path: Path, text: str, key: str
) -> None:
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_settings({"MLW_CONFIG": str(path)})
    assert info.value.key == key


def test_a_missing_or_broken_config_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_settings({"MLW_CONFIG": str(tmp_path / "missing.toml")})
    broken = tmp_path / "broken.toml"
    broken.write_text("[server\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings({"MLW_CONFIG": str(broken)})


def test_test_variables_are_not_configuration_keys() -> None:
    load_settings({"MLW_TEST_REDIS_URL": "redis://x", "MLW_TEST_POSTGRES_URL": "postgresql://x"})
