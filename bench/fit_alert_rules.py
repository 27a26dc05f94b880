"""Choose the value-alert threshold and longest price on past seasons of a backtest.

    streamapp backtest FILES... --out DIR --params P.json   # P: value_edge 0, max_price 10
    python bench/fit_alert_rules.py DIR/alerts.csv --train-until 2022-07-01

Run the backtest with the loosest rules (every alert a tighter rule would keep is among
them), then for every (value_edge, max_price, market) it prints the settled alerts taken
before the close (more than an hour before the start), their same-book CLV, CLV against
the fair closing price and ROI, the count per season, and the projected count on two later
seasons: the last three training seasons' rate x 2 x ``--rate-ratio`` (0.65: at the old
rules, 0.02 and 6.0, the two later seasons had 43 early alerts a season against 66 on the
last three training ones). Among the rules projecting at least ``--min-alerts`` x
``--margin`` it picks the one most likely to have ROI >= 0: the largest mean CLV against the
fair close (the least noisy estimate of the ROI) over the standard error of the ROI.
"""

from __future__ import annotations

import argparse
import csv
import math

from streamapp.backtest import EARLY_MINUTES
from streamapp.connectors.parsing import SEASON_START_MONTH

EDGES = [0.0, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02]
PRICES = [4.0, 5.0, 6.0, 7.0, 8.0, 10.0]


def season(date: str) -> int:
    """The year a season starts in, of an ISO date (the seasons' start month, as the
    connectors label seasons)."""
    year, month = int(date[:4]), int(date[5:7])
    return year if month >= SEASON_START_MONTH else year - 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("alerts")
    parser.add_argument("--train-until", required=True)
    parser.add_argument("--rate-ratio", type=float, default=0.65)
    parser.add_argument("--min-alerts", type=int, default=300)
    parser.add_argument("--margin", type=float, default=1.2)
    args = parser.parse_args()
    with open(args.alerts) as handle:
        rows = [
            r for r in csv.DictReader(handle)
            if r["profit"] != "" and r["date"] < args.train_until
        ]  # fmt: skip
    close = [r for r in rows if int(r["minutes_before_start"]) <= EARLY_MINUTES]
    early = [r for r in rows if int(r["minutes_before_start"]) > EARLY_MINUTES]
    for label, group in (("at the close", close), ("early", early)):
        if group:
            roi = sum(float(r["profit"]) for r in group) / len(group)
            clv = sum(float(r["clv_same_book"] or 0) for r in group) / len(group)
            print(f"{label}: {len(group):,} alerts, same-book CLV {clv:+.4f}, ROI {roi:+.4f}")
    last = max(season(r["date"]) for r in early)
    results = []
    for edge in EDGES:
        for price in PRICES:
            for market in ("all", "moneyline"):
                kept = [
                    r for r in early
                    if float(r["edge"]) >= edge and float(r["price_taken"]) <= price
                    and market in ("all", r["market"])
                ]  # fmt: skip
                if not kept:
                    continue
                recent = [r for r in kept if season(r["date"]) > last - 3]
                projected = len(recent) / 3 * 2 * args.rate_ratio
                profits = [float(r["profit"]) for r in kept]
                roi = sum(profits) / len(profits)
                sd = math.sqrt(sum((p - roi) ** 2 for p in profits) / len(profits))
                clv_fair = sum(float(r["clv"]) for r in recent) / max(1, len(recent))
                clv_book = sum(float(r["clv_same_book"] or 0) for r in kept) / len(kept)
                z = clv_fair / (sd / math.sqrt(max(projected, 1)))
                per_season = [
                    sum(1 for r in kept if season(r["date"]) == s)
                    for s in range(last - 9, last + 1)
                ]
                results.append((z, edge, price, market, projected, len(kept), clv_book, roi))
                print(
                    f"edge {edge:<6} price<={price:<4} {market:9s} n={len(kept):5d} "
                    f"CLV same-book {clv_book:+.4f} fair(recent) {clv_fair:+.4f} ROI {roi:+.4f} "
                    f"projected {projected:4.0f} per season {per_season}"
                )
    # ModelParams has no per-market switch: the rule is chosen among all-market ones
    eligible = [r for r in results if r[3] == "all" and r[4] >= args.min_alerts * args.margin]
    if eligible:
        z, edge, price, market, projected, n, clv, roi = max(eligible)
        print(
            f"chosen: value_edge {edge}, max_price {price}, markets {market} "
            f"(projected {projected:.0f}, training {n:,} alerts, CLV {clv:+.4f}, ROI {roi:+.4f})"
        )


if __name__ == "__main__":
    main()
