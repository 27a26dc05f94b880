"""wait_until_drained: done when the group has committed everything and the outputs stopped
growing, timed at the poll that first saw that state (the polls after it only confirm)."""

from __future__ import annotations

import pytest

from streamapp import summary


class Clock:
    now = 0.0

    def monotonic(self) -> float:
        return self.now


class ScriptedWatch:
    """TopicWatch's answers, one poll each; every poll ends one second later."""

    def __init__(self, polls: list[tuple[int | None, int]], clock: Clock) -> None:
        self.polls, self.clock = iter(polls), clock

    def __call__(self, settings, counted):
        return self

    async def __aenter__(self) -> ScriptedWatch:
        return self

    async def __aexit__(self, *exc_info) -> None:
        pass

    async def lags(self, group, names):
        self.lag, self.count = next(self.polls)
        return None if self.lag is None else {names[0]: self.lag}

    async def counts(self):
        self.clock.now += 1
        return {"predictions": self.count}


@pytest.mark.parametrize(
    ("polls", "done_at"),
    [
        # the outputs still grow after the inputs are committed
        ([(None, 0), (4, 10), (0, 20), (0, 25), (0, 25), (0, 25), (0, 25)], 4),
        # the outputs are final before the last input is committed: done when it is
        ([(3, 25), (3, 25), (0, 25), (0, 25), (0, 25), (0, 25)], 3),
    ],
)
async def test_done_when_first_seen_final(settings, monkeypatch, polls, done_at):
    clock = Clock()
    monkeypatch.setattr(summary, "time", clock)
    monkeypatch.setattr(summary, "TopicWatch", ScriptedWatch(polls, clock))
    assert await summary.wait_until_drained(settings, poll=0) == done_at
