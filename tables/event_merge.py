"""Merging a league's game and odds streams into one event-time order.

The two topics are consumed side by side and either may run ahead of the other (by months
of event time in a fast replay), so the order they reach an agent is not the order things
happened. Events wait in the league's buffer until no input can still bring an event that
goes before them; then they are released in (event time, feed order, source, offset) order,
which is the same on every run and every worker. Each feed is in event-time order, so an
event waits only for the *other* feeds, and only while it is past their latest event time
(the watermark of each input), and only for inputs that are not idle. An input is idle when
the agent has taken everything the broker holds for it and nothing has come for a moment
(agents.runtime): live, a games feed is quiet for hours between fixtures and finals, and a
quote must not wait for it. An event from before the live window (a replay, a backlog after
downtime) is in no hurry, and never passes an idle input: a producer may be held up
between its writes to two topics for longer than any quiet time (the README,
"Predictions"), so only the other feed's own progress lets it through, an event or a
watermark (schemas.batches: the producer says that feed has sent everything up to an
instant; a replay ends with one per league and feed). A replayed quote also waits for its
own feed to pass its instant (WHOLE_INSTANTS), so an instant is never cut between two
releases. So a replay's order, and its instants, are exactly the offline ones however the
machine is loaded, short of ``max_wait``: a feed that stops but is
not idle (a stuck producer upstream still writing other leagues) would hold events back,
so one that has waited ``max_wait`` seconds of wall-clock time is released regardless,
with everything older than it.

Redeliveries after a restart are recognised by their offsets and ignored; an event the
feed stage sent twice (at-least-once after a rebalance) is dropped here while the first copy
still waits, and by the model state's own checks once it was applied.
"""

from __future__ import annotations

import bisect
from typing import Any, NamedTuple

# At the same instant a game's state goes before its prices (as in the replay timeline).
FEED_RANK = {"games": 0, "odds": 1}
# A league's quotes of one instant are one move of its market, which the fold forecasts
# once, after the instant's last quote (tables.league_ratings.LeagueRatings.observe): a
# replayed quote goes out with the rest of its instant, once its feed is past it.
WHOLE_INSTANTS = frozenset({"odds"})


class Released(NamedTuple):
    feed: str
    payload: str
    source: str  # "topic:partition" it was read from
    offset: int
    item: int | None  # its place in the message's batch of events (schemas.batches)


# A pending event: [event time (ms), feed rank, source, offset, item, feed, payload, arrived]
# — a list, as the league's JSON value keeps it; sorted, it is the release order.
_ITEM, _FEED, _PAYLOAD, _ARRIVED = 4, 5, 6, 7


def new_merge() -> dict[str, Any]:
    return {"seen": {}, "offsets": {}, "pending": []}


def push(
    merge: dict[str, Any],
    feed: str,
    at: int,
    source: str,
    offset: int,
    payload: str,
    arrived: float = 0.0,
    item: int | None = None,
) -> bool:
    """Buffer one event (``at``: event time in ms; ``arrived``: wall-clock seconds;
    ``item``: its place in a message holding a batch); False when its offset and item
    were pushed before (a redelivery)."""
    position = [offset, -1 if item is None else item]
    if position <= merge["offsets"].get(source, [-1, -1]):
        return False
    merge["offsets"][source] = position
    merge["seen"][feed] = max(merge["seen"].get(feed, at), at)
    pending = merge["pending"]
    same_time = bisect.bisect_left(pending, [at])
    while same_time < len(pending) and pending[same_time][0] == at:
        if pending[same_time][_PAYLOAD] == payload:
            return False  # the same event sent twice upstream
        same_time += 1
    # sorted by (time, feed rank, source, offset, item): a total order independent of
    # arrival
    bisect.insort(pending, [at, FEED_RANK[feed], source, *position, feed, payload, arrived])
    return True


def complete_through(merge: dict[str, Any], feed: str, at: int) -> None:
    """``feed`` has sent every event up to ``at`` (ms; a watermark): the same as having
    seen one of its events a millisecond later, which may still be followed by more at that
    instant."""
    merge["seen"][feed] = max(merge["seen"].get(feed, at + 1), at + 1)


def oldest_arrival(merge: dict[str, Any]) -> float:
    """When the longest-waiting pending event arrived (wall-clock seconds)."""
    return min(item[_ARRIVED] for item in merge["pending"])


def release(
    merge: dict[str, Any],
    feeds: tuple[str, ...],
    max_wait: float = 0.0,
    now: float = 0.0,
    idle: frozenset[str] = frozenset(),
    live_from: int | None = None,
) -> list[Released]:
    """Every buffered event no other input can still precede (``idle`` inputs precede
    no live event), or that has waited longer than ``max_wait`` seconds (0: no limit),
    oldest first. An event from before ``live_from`` (ms; a replayed or backlogged one)
    waits for every other input whether idle or not."""
    seen, pending = merge["seen"], merge["pending"]
    if not pending:
        return []
    every_input = [(feed, seen.get(feed, -1)) for feed in feeds]
    waited_for = [(feed, latest) for feed, latest in every_input if feed not in idle]
    overdue = [item[0] for item in pending if max_wait and item[_ARRIVED] <= now - max_wait]
    limit = max(overdue, default=-1)
    cut = 0
    while cut < len(pending):
        at = pending[cut][0]
        live = live_from is None or at >= live_from
        if at > limit and _may_be_preceded(pending[cut], waited_for if live else every_input, live):
            break
        cut += 1
    released, merge["pending"] = pending[:cut], pending[cut:]
    return [_released(item) for item in released]


def _released(item: list) -> Released:
    place = item[_ITEM] if item[_ITEM] >= 0 else None
    return Released(item[_FEED], item[_PAYLOAD], item[2], item[3], place)


def _may_be_preceded(item: list, waited_for: list[tuple[str, int]], live: bool) -> bool:
    """Whether an input may still bring an event that sorts before ``item``: another feed
    whose latest event time is earlier, or the same instant with a lower feed rank. The
    item's own feed brings only later events, or more of its instant: a replayed one of
    WHOLE_INSTANTS waits for those too."""
    at, rank, feed = item[0], item[1], item[_FEED]
    whole = not live and feed in WHOLE_INSTANTS
    return any(
        (whole and latest <= at)
        if other == feed
        else (latest < at or (latest == at and FEED_RANK[other] < rank))
        for other, latest in waited_for
    )
