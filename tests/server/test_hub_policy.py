"""The hub's pure policy: configuration checks, channel names, reconnect backoff."""

from __future__ import annotations

import itertools

import pytest

from actors.jobs.publish import channel_for
from server.hub.policy import HubConfig, backoff_delays


def test_the_default_pattern_matches_the_channels_the_publisher_uses() -> None:
    config = HubConfig()

    assert config.owner_of(channel_for("u-1")) == "u-1"
    assert config.owner_of("other:events:u-1") is None
    assert config.owner_of("mlw:events:") is None


def test_a_custom_channel_pattern_yields_the_owner_after_its_prefix() -> None:
    assert HubConfig(channel_pattern="test-7:events:*").owner_of("test-7:events:abc") == "abc"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("channel_pattern", "mlw:events"),
        ("channel_pattern", "mlw:*:events:*"),
        ("queue_size", 0),
        ("max_frame_bytes", 0),
        ("heartbeat_s", 0.0),
        ("backoff_initial_s", -1.0),
    ],
)
def test_a_bad_config_value_is_refused_naming_the_field(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        HubConfig(**{field: value})  # type: ignore[arg-type]


def test_a_backoff_cap_below_the_first_delay_is_refused() -> None:
    with pytest.raises(ValueError, match="backoff_max_s"):
        HubConfig(backoff_initial_s=2.0, backoff_max_s=1.0)


def test_backoff_doubles_up_to_its_cap_without_jitter() -> None:
    delays = list(itertools.islice(backoff_delays(0.1, 1.0, jitter=lambda: 0.0), 6))

    assert delays == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.0, 1.0])


def test_jitter_only_ever_shortens_a_delay_by_at_most_half() -> None:
    delays = list(itertools.islice(backoff_delays(1.0, 1.0, jitter=lambda: 0.999), 3))

    assert all(0.5 <= d < 1.0 for d in delays)
