import numpy as np
import pytest

from tables import simulation
from tables.poisson_draws import poisson_pair
from tables.score_counts import margin_and_total_counts
from tables.simulation import COUNTED_SPAN as SPAN
from tables.simulation import ScoreTally, tally, tally_scores


def numpy_tallies(home: np.ndarray, away: np.ndarray) -> ScoreTally:
    return ScoreTally(tally(home - away), tally(home + away))


def same(tallied: ScoreTally, expected: ScoreTally) -> bool:
    return all(
        a.dtype == b.dtype and np.array_equal(a, b)
        for mine, theirs in zip(tallied, expected, strict=True)
        for a, b in zip(mine, theirs, strict=True)
    )


@pytest.mark.parametrize(("home", "away"), [(1.45, 1.15), (0.2, 6.5), (9.9, 9.9), (4.0, 1e-6)])
def test_counted_margins_and_totals_are_numpys_tallies(home, away, monkeypatch):
    monkeypatch.setattr(simulation, "COUNTS_COMPILED", True)  # counted, even as plain Python
    for seed in range(5):
        scores = poisson_pair(np.random.default_rng(seed), home, away, 3000)
        assert same(tally_scores(*scores), numpy_tallies(*scores))
        margins, lowest, totals = margin_and_total_counts(*scores, SPAN)
        difference, total = scores[0] - scores[1], scores[0] + scores[1]
        low, high = difference.min() - lowest, difference.max() - lowest
        assert np.array_equal(margins[low : high + 1], np.bincount(difference - difference.min()))
        assert not margins[:low].any() and not margins[high + 1 :].any()
        assert np.array_equal(totals[: total.max() + 1], np.bincount(total))
        assert not totals[total.max() + 1 :].any()


def test_scores_by_hand(monkeypatch):
    monkeypatch.setattr(simulation, "COUNTS_COMPILED", True)
    home, away = np.array([0, 2, 1, 2], dtype=np.int64), np.array([1, 0, 1, 0], dtype=np.int64)
    margins, lowest, totals = margin_and_total_counts(home, away, SPAN)
    assert lowest == -2 and margins.tolist() == [0, 1, 1, 0, 2]  # margins -1, 2, 0, 2
    assert totals.tolist() == [0, 1, 3, 0, 0]  # totals 1, 2, 2, 2
    tallied = tally_scores(home, away)
    assert tallied.margin.values.tolist() == [-1.0, 0.0, 2.0]
    assert tallied.margin.counts.tolist() == [1, 1, 2]
    assert tallied.total.values.tolist() == [1.0, 2.0] and tallied.total.counts.tolist() == [1, 3]
    assert not tallied.total.values.flags.writeable  # shared by every caller


@pytest.mark.parametrize(
    ("home", "away"),
    [
        (np.array([1.0, 2.0]), np.array([0.0, 1.0])),  # normal scores, rounded: numpy tallies
        (np.array([1, -1], dtype=np.int64), np.array([0, 1], dtype=np.int64)),
        (np.array([1, 2], dtype=np.int64), np.array([0], dtype=np.int64)),
        (np.array([], dtype=np.int64), np.array([], dtype=np.int64)),
        (np.array([SPAN // 2 + 1], dtype=np.int64), np.array([0], dtype=np.int64)),  # too long
    ],
)
def test_other_scores_are_left_to_numpy(home, away):
    assert margin_and_total_counts(home, away, SPAN) is None
