"""Which boosting rounds a learning curve scores when XGBoost is not scoring every round."""

from __future__ import annotations

from actors.ml.fit_curves import CURVE_EVERY_ROUND_ROWS, CURVE_TIME_SHARE, RoundSchedule


class _Clock:
    """A clock the test moves by hand, so the schedule's decisions do not depend on the machine."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_small_fit_scores_every_round_however_long_scoring_takes() -> None:
    clock = _Clock()
    schedule = RoundSchedule(CURVE_EVERY_ROUND_ROWS, 50, clock)

    for step in range(1, 51):
        assert schedule.due(step)
        schedule.spent(1000.0)


def test_a_large_fit_scores_the_first_and_last_rounds_and_keeps_scoring_within_its_share() -> None:
    clock = _Clock()
    schedule = RoundSchedule(CURVE_EVERY_ROUND_ROWS + 1, 100, clock)
    scored = []
    spent = 0.0
    for step in range(1, 101):
        clock.now += 1.0  # one second per round
        if schedule.due(step):
            scored.append(step)
            schedule.spent(0.3)  # each scoring costs 30 % of a round
            spent += 0.3
    assert scored[0] == 1 and scored[-1] == 100
    assert 3 < len(scored) < 100
    # Between the first and the last round the time spent scoring never runs ahead of its share.
    assert spent - 0.3 <= CURVE_TIME_SHARE * 100 + 0.3
