"""The anomaly stage of validation: events that passed schema, range and consistency checks
and are still suspect. An anomaly is marked, counted and shown, never dead-lettered: the
event may well be right (a corrected score, a sharp book moving first), so it is kept and
whoever reads it is told.

Four rules, each judging one event against state the odds book already holds:

- price outlier: a bookmaker's fair (margin-free) probability of a selection sits far from
  the other books' for the same game, market, line and selection — a robust z-score (median
  and MAD of the others), so one wild book cannot drag the consensus it is judged against;
- score backwards: a newer game event gives a side fewer points than an earlier one;
- lone line move: one book moves a price (or its line) by a step while no other book moves
  that selection within a time span either side;
- stale bookmaker: a book whose price has not changed over N moves of the other books.

Nothing here does I/O; the thresholds are the constants below, which the rules take as
defaults.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from tables.margins import multiplicative

# Robust z of a fair probability against the other books' median: 4 flags 30 of 453,680
# real football-data prices (2012-2022, four books each); the largest are plain feed
# errors (bet365's handicap prices the other way round; a Pinnacle over/under 2.5 at
# 1.48/2.63 against 1.25/4.0 everywhere else).
OUTLIER_Z = 4.0
# Fewer other books make no consensus worth judging against.
OUTLIER_MIN_OTHER_BOOKS = 3
# With three or four books the MAD of those that agree is close to 0: a deviation is
# measured in at least 2 probability points, so a 1-point difference is never an outlier.
# Probability points, not odds ratios: a long shot must be far off to be flagged (10.0
# shown as 18.0 moves 4 points, z 2), which is also where value alerts stop (max_price).
OUTLIER_MIN_SCALE = 0.02
MAD_TO_SD = 1.4826  # MAD x this = the standard deviation of a normal sample
# Prices older than this are not today's market: neither judged nor part of a consensus.
CONSENSUS_MAX_AGE_MS = 60 * 60 * 1000
LONE_MOVE_STEP = 0.03  # implied probability moved this much (or the line changed)
LONE_MOVE_WINDOW_MS = 10 * 60 * 1000
LONE_MOVE_MIN_OTHER_BOOKS = 2  # a book alone on a selection has nobody to move with
STALE_AFTER_MOVES = 5
LEAGUE_LOG_CAP = 200  # the most recent anomalies a league's log keeps


class AnomalyKind(StrEnum):
    PRICE_OUTLIER = "price_outlier"
    SCORE_BACKWARDS = "score_backwards"
    LONE_LINE_MOVE = "lone_line_move"
    STALE_BOOKMAKER = "stale_bookmaker"


@dataclass(frozen=True)
class Anomaly:
    # Built from what makes the situation, so judging the same events again cannot add it twice.
    id: str
    kind: AnomalyKind
    game_id: str
    at: int  # event time (ms) of the suspect price or event
    bookmaker: str | None
    market: str | None
    selection: str | None
    score: float  # how far: robust z, points lost, probability moved, moves missed
    detail: str

    def to_dict(self) -> dict[str, Any]:
        # Written out: dataclasses.asdict deep-copies every field, a third of a busy
        # book's cost per quote.
        return {"id": self.id, "kind": self.kind.value, "game_id": self.game_id, "at": self.at,
                "bookmaker": self.bookmaker, "market": self.market, "selection": self.selection,
                "score": self.score, "detail": self.detail}  # fmt: skip


# -- price outlier ----------------------------------------------------------------------


def median(values: Sequence[float]) -> float:
    """``statistics.median`` of a non-empty list without its checks: it is taken thousands
    of times a second on a busy game's handful of books."""
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def robust_z(value: float, others: Sequence[float], min_scale: float = OUTLIER_MIN_SCALE) -> float:
    """How many (robust) standard deviations ``value`` sits from the median of ``others``."""
    centre = median(others)
    mad = median([abs(o - centre) for o in others])
    return (value - centre) / max(MAD_TO_SD * mad, min_scale)


def fair_by_book(
    snapshots: Mapping[str, Mapping[str, float]], selections: Sequence[str]
) -> dict[str, dict[str, float]]:
    """bookmaker -> selection -> fair probability, for the books that price every selection
    (``snapshots``: bookmaker -> selection -> decimal price)."""
    return {
        bookmaker: dict(
            zip(selections, multiplicative([prices[s] for s in selections]), strict=True)
        )
        for bookmaker, prices in snapshots.items()
        if all(s in prices for s in selections)
    }


def outlier_z(
    fair: Mapping[str, Mapping[str, float]],
    bookmaker: str,
    selection: str,
    min_other_books: int = OUTLIER_MIN_OTHER_BOOKS,
    min_scale: float = OUTLIER_MIN_SCALE,
) -> float | None:
    """Robust z of one book's fair probability of a selection against the other books'
    (``fair`` as fair_by_book gives it); None when the book has no whole market or there
    are too few other books to make a consensus."""
    if bookmaker not in fair:
        return None
    others = [f[selection] for b, f in fair.items() if b != bookmaker]
    if len(others) < min_other_books:
        return None
    return robust_z(fair[bookmaker][selection], others, min_scale)


def is_lone_outlier(
    snapshots: Mapping[str, Mapping[str, float]],
    selections: Sequence[str],
    bookmaker: str,
    selection: str,
    threshold: float = OUTLIER_Z,
) -> bool:
    """Whether a book's price of a selection is an outlier against the other books'."""
    z = outlier_z(fair_by_book(snapshots, selections), bookmaker, selection)
    return z is not None and abs(z) >= threshold


def price_outliers(
    game_id: str,
    market: str,
    snapshots: Mapping[str, Mapping[str, float]],
    selections: Sequence[str],
    priced_at: Mapping[str, int],
    threshold: float = OUTLIER_Z,
) -> list[Anomaly]:
    """Every book and selection of one market whose fair probability is an outlier;
    ``priced_at``: bookmaker -> time of its prices (the anomaly's time and identity)."""
    if len(snapshots) <= OUTLIER_MIN_OTHER_BOOKS:
        return []  # no book has enough others to be judged against
    fair = fair_by_book(snapshots, selections)
    # A book's distance from the others' median is at most the spread of all books, and an
    # outlier is at least ``threshold`` x OUTLIER_MIN_SCALE away: a selection the books
    # agree on closer than that has none (most, on a busy game; the margin keeps rounding
    # from deciding it; "not <" keeps a NaN judged).
    reach = threshold * OUTLIER_MIN_SCALE * (1 - 1e-9)
    judged = [s for s in selections if not _spread([f[s] for f in fair.values()]) < reach]
    found = []
    for bookmaker in sorted(fair):
        for selection in judged:
            z = outlier_z(fair, bookmaker, selection)
            if z is None or abs(z) < threshold:
                continue
            others = [f[selection] for b, f in fair.items() if b != bookmaker]
            consensus, at = median(others), priced_at[bookmaker]
            found.append(
                Anomaly(
                    id=f"{AnomalyKind.PRICE_OUTLIER.value}:{game_id}:{market}:{bookmaker}:"
                    f"{selection}:{at}",
                    kind=AnomalyKind.PRICE_OUTLIER,
                    game_id=game_id,
                    at=at,
                    bookmaker=bookmaker,
                    market=market,
                    selection=selection,
                    score=round(z, 2),
                    detail=f"{bookmaker} {selection} at {snapshots[bookmaker][selection]:g}: "
                    f"fair {fair[bookmaker][selection]:.1%} against {consensus:.1%} "
                    f"at {len(others)} other books (robust z {z:+.1f})",
                )
            )
    return found


def _spread(values: Sequence[float]) -> float:
    return max(values) - min(values) if values else 0.0


# -- score backwards --------------------------------------------------------------------


def score_backwards(
    game_id: str,
    previous: tuple[int, int] | None,
    current: tuple[int, int] | None,
    at: int,
) -> Anomaly | None:
    """A newer game event whose score is lower, on either side, than the one before it."""
    if previous is None or current is None:
        return None
    lost = sum(max(0, before - now) for before, now in zip(previous, current, strict=True))
    if not lost:
        return None
    return Anomaly(
        id=f"{AnomalyKind.SCORE_BACKWARDS.value}:{game_id}:{at}",
        kind=AnomalyKind.SCORE_BACKWARDS,
        game_id=game_id,
        at=at,
        bookmaker=None,
        market=None,
        selection=None,
        score=float(lost),
        detail=f"score went from {previous[0]}-{previous[1]} to {current[0]}-{current[1]}",
    )


# -- line moves -------------------------------------------------------------------------


def big_move(before: Sequence, after: Sequence, step: float = LONE_MOVE_STEP) -> float | None:
    """How far a line moved between two points [time, price, line], as the change of its
    implied probability, when that is ``step`` or more or the handicap or total changed."""
    size = abs(1 / after[1] - 1 / before[1])
    return size if size >= step or before[2] != after[2] else None


def lone_line_move(
    game_id: str,
    market: str,
    bookmaker: str,
    selection: str,
    move: Mapping[str, Any],
    other_moves: Sequence[int],
    window_ms: int = LONE_MOVE_WINDOW_MS,
) -> Anomaly | None:
    """A move (``{"at", "size", "from", "to"}``) that no other book made within
    ``window_ms`` either side (``other_moves``: when they moved the same selection); judge
    it only once its window is over, when a later move can no longer join it."""
    if any(abs(at - move["at"]) <= window_ms for at in other_moves):
        return None
    return Anomaly(
        id=f"{AnomalyKind.LONE_LINE_MOVE.value}:{game_id}:{market}:{bookmaker}:{selection}:"
        f"{move['at']}",
        kind=AnomalyKind.LONE_LINE_MOVE,
        game_id=game_id,
        at=move["at"],
        bookmaker=bookmaker,
        market=market,
        selection=selection,
        score=round(move["size"], 4),
        detail=f"{bookmaker} moved {selection} {move['from']:g} -> {move['to']:g}; no other "
        f"book moved it within {window_ms // 60_000} min",
    )


def flags_stale(moves_of_others: int, after_moves: int = STALE_AFTER_MOVES) -> bool:
    """The stale-bookmaker rule's count: a book is flagged once, when the others' moves
    since its last change reach ``after_moves`` (not again at every later move)."""
    return moves_of_others == after_moves


def stale_bookmaker(
    game_id: str,
    market: str,
    bookmaker: str,
    selection: str,
    unchanged_since: int,
    moves_of_others: int,
    after_moves: int = STALE_AFTER_MOVES,
) -> Anomaly | None:
    """A book whose price has not changed since ``unchanged_since`` while the others moved
    ``moves_of_others`` times; flagged once, when the count reaches ``after_moves``."""
    if not flags_stale(moves_of_others, after_moves):
        return None
    return Anomaly(
        id=f"{AnomalyKind.STALE_BOOKMAKER.value}:{game_id}:{market}:{bookmaker}:{selection}:"
        f"{unchanged_since}",
        kind=AnomalyKind.STALE_BOOKMAKER,
        game_id=game_id,
        at=unchanged_since,
        bookmaker=bookmaker,
        market=market,
        selection=selection,
        score=float(moves_of_others),
        detail=f"{bookmaker} has not changed {selection} while other books moved it "
        f"{moves_of_others} times",
    )


def logged(log: dict[str, Any] | None, anomalies: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """A league's anomaly log with ``anomalies`` (as Anomaly.to_dict gives them) added:
    counts per kind since the log began, and the most recent ones."""
    log = log or {"counts": {}, "recent": []}
    counts = dict(log["counts"])
    for anomaly in anomalies:
        counts[anomaly["kind"]] = counts.get(anomaly["kind"], 0) + 1
    return {"counts": counts, "recent": [*log["recent"], *anomalies][-LEAGUE_LOG_CAP:]}
