"""Cost of one game's 10,000-simulation run (tables.forecast.line_probabilities), cold.

Per sport: the seeded score draw, its tally and the spread/total probabilities of a few
typical lines, with the simulation cache emptied before every run (a game whose means just
changed), and a run that finds its simulation kept (the game's set of lines changed). The
probabilities are checked against the per-simulation sums (tables.simulation.line_shares)
the lines were priced with before the tally, to the last bit. Usage:

    python bench/micro_simulation.py [--runs 200]
"""

from __future__ import annotations

import argparse
import time
import zlib

from schemas.base import Sport
from tables.forecast import line_probabilities
from tables.model_params import DEFAULT_PARAMS
from tables.simulation import line_shares, simulate_scores, simulated_tally

CASES = {
    Sport.SOCCER: ((1.55, 1.2), [-0.25, -0.5, 0.75], [2.5]),
    Sport.NHL: ((3.1, 2.8), [-1.5], [5.5, 6.0]),
    Sport.NBA: ((112.3, 108.1), [-3.5, -4.0, -4.5], [220.5, 221.0]),
    Sport.NFL: ((24.6, 21.9), [-2.5, -3.0], [46.5]),
}
GAME_ID = "bench-game"


def per_simulation(sport: Sport, means, spreads, totals) -> dict[str, float]:
    """The same probabilities summed over every simulation, one line at a time."""
    seed = zlib.crc32(GAME_ID.encode())
    params = DEFAULT_PARAMS.sport(sport)
    home, away = simulate_scores(sport, *means, params.score_sd, DEFAULT_PARAMS.simulations, seed)
    margin, total = home - away, home + away

    def share(result, line: float) -> float:
        won, lost = line_shares(result, line)
        decided = float(won.sum() + lost.sum())
        return float(won.sum()) / decided if decided else 0.5

    probabilities = {}
    for line in spreads:
        probabilities[f"spread|{line:g}|home"] = share(margin, line)
        probabilities[f"spread|{-line:g}|away"] = share(-margin, -line)
    for line in totals:
        probabilities[f"total|{line:g}|over"] = share(total, -line)
        probabilities[f"total|{line:g}|under"] = share(-total, line)
    return probabilities


def best_microseconds(runs: int, step, before=lambda: None) -> float:
    best = float("inf")
    for _ in range(runs):
        before()
        started = time.perf_counter()
        step()
        best = min(best, time.perf_counter() - started)
    return best * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    print(f"{'sport':<8}{'cold run':>12}{'kept draw':>12}  same as per-simulation sums")
    for sport, (means, spreads, totals) in CASES.items():
        params = DEFAULT_PARAMS.sport(sport)

        def run(sport=sport, params=params, means=means, spreads=spreads, totals=totals):
            return line_probabilities(
                sport, params, means, GAME_ID, spreads, totals, DEFAULT_PARAMS.simulations
            )

        cold = best_microseconds(args.runs, run, simulated_tally.cache_clear)
        kept = best_microseconds(args.runs, run)
        same = run() == per_simulation(sport, means, spreads, totals)
        print(f"{sport.value:<8}{cold:>9.0f} us{kept:>9.0f} us  {same}")


if __name__ == "__main__":
    main()
