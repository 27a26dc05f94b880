"""Response times of the history queries the web view serves from PostgreSQL.

Runs each query repeatedly against the configured database (load it first, e.g.
`streamapp backfill ../shared/data/*/*.csv` and a demo run for predictions) and prints
row counts and p50/p95/max in milliseconds. Usage: python bench/db_queries.py [REPEATS]
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time

from psycopg_pool import AsyncConnectionPool

from streamapp.db import queries
from streamapp.settings import get_settings

CASES = {
    "team_games (Arsenal, 50 newest)": (
        queries.TEAM_GAMES,
        {"league": "E0", "team": "Arsenal", "limit": 50, "offset": 0},
    ),
    "team_games (LAL, page 3)": (
        queries.TEAM_GAMES,
        {"league": "NBA", "team": "LAL", "limit": 50, "offset": 100},
    ),
    "game_odds (every quote of a match)": (
        queries.GAME_ODDS,
        {"game_id": "E0-2021-22-brentford-arsenal"},
    ),
    "closing_lines (one match)": (
        queries.GAME_CLOSING,
        {"game_id": "E0-2021-22-brentford-arsenal"},
    ),
    "performance (all models, per month)": (
        queries.PERFORMANCE,
        {"model": None, "model_version": None, "sport": None, "league": None},
    ),
}


async def main(repeats: int) -> None:
    settings = get_settings()
    async with AsyncConnectionPool(settings.effective_database_url, min_size=1, open=False) as pool:
        await pool.wait()
        print(f"{'query':<40} {'rows':>6} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
        for name, (sql, params) in CASES.items():
            timings = []
            for _ in range(repeats):
                started = time.perf_counter()
                rows = await queries.fetch_all(pool, sql, params)
                timings.append((time.perf_counter() - started) * 1000)
            timings.sort()
            p95 = timings[int(0.95 * (len(timings) - 1))]
            print(
                f"{name:<40} {len(rows):>6} {statistics.median(timings):>8.2f} "
                f"{p95:>8.2f} {timings[-1]:>8.2f}"
            )


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 50))
