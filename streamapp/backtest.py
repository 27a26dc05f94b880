"""Walk-forward backtest: historical files through the same league state the agents keep.

Events go through ``LeagueRatings.observe`` in event-time order, exactly as the
predict-games agent applies them, so each game is predicted only from what happened
before it. Per game the row keeps the model-only prediction in force at kick-off, and the
market-aware one at the first market (the opening prices) and at kick-off (the closing
prices); alerts are settled by the same code as live ones.
"""

from __future__ import annotations

import csv
import json
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from tqdm import tqdm

from schemas.game import GameEvent, GameStatus
from schemas.odds import OddsQuote
from tables.forecast import outcomes
from tables.league_ratings import (
    MARKET_AWARE,
    MODEL_ONLY,
    LeagueRatings,
    Outputs,
    millis,
    more_of_instant,
)
from tables.margins import multiplicative
from tables.model_params import ModelParams
from tables.settlement import (
    add_prediction,
    new_performance,
    outcome_index,
    score_prediction,
    summary,
)

log = logging.getLogger(__name__)

# The bookmaker whose opening and closing lines the report compares with (soccer files).
REFERENCE_BOOK = "pinnacle"
EARLY_MINUTES = 60
PREDICTION_COLUMNS = [
    "date", "sport", "league", "season", "game_type", "home", "away",
    "p_home", "p_draw", "p_away", "m_home", "m_draw", "m_away",
    "mc_home", "mc_draw", "mc_away", "q_home", "q_draw", "q_away",
    "pin_open_home", "pin_open_draw", "pin_open_away",
    "pin_close_home", "pin_close_draw", "pin_close_away", "home_score", "away_score", "outcome",
]  # fmt: skip
ALERT_COLUMNS = [
    "date", "sport", "league", "home", "away", "market", "selection", "line", "bookmaker",
    "model_version", "model_probability", "market_probability", "edge", "stake_fraction",
    "minutes_before_start", "price_taken", "closing_price", "clv", "clv_same_book", "result",
    "profit",
]  # fmt: skip


@dataclass
class GameRow:
    values: dict[str, Any]
    reference: dict[str, dict[str, float]] = field(default_factory=dict)  # phase -> prices


@dataclass
class Backtest:
    params: ModelParams
    min_change: float
    alert_on_outliers: bool = False  # STREAMAPP_ALERT_ON_OUTLIER_PRICES, as the agent
    leagues: dict[str, LeagueRatings] = field(default_factory=dict)
    games: dict[str, GameRow] = field(default_factory=dict)
    rows: list[dict[str, Any]] = field(default_factory=list)
    alerts: dict[str, dict[str, Any]] = field(default_factory=dict)
    invalid: int = 0
    # league -> its latest event, applied once the next one (or the end) shows whether it
    # is the last quote of its instant
    held: dict[str, GameEvent | OddsQuote] = field(default_factory=dict)

    def apply(self, feed: str, payload: dict[str, Any]) -> None:
        """Take the next event of the files. A league's event is applied when the league's
        next one is known (the agent's rule for quotes of one instant: ``observe``);
        ``finish`` applies each league's last."""
        model = GameEvent if feed == "games" else OddsQuote
        try:
            event = model.model_validate(payload)
        except ValidationError:
            self.invalid += 1  # the agents send these to the dead-letter topic
            return
        key = event.partition_key
        if key not in self.leagues:
            self.leagues[key] = LeagueRatings(event.sport, event.league)
        self._apply_held(key, event)
        if isinstance(event, OddsQuote):
            self._reference(event)
        self.held[key] = event

    def finish(self) -> None:
        """Apply each league's last event (the files have nothing after it)."""
        for key in list(self.held):
            self._apply_held(key, None)

    def _apply_held(self, key: str, following: GameEvent | OddsQuote | None) -> None:
        event = self.held.pop(key, None)
        if event is None:
            return
        league = self.leagues[key]
        continues = more_of_instant(event, following)
        out = league.observe(event, self.params, self.min_change, self.alert_on_outliers, continues)
        self._record(event, league, out)

    def _reference(self, quote: OddsQuote) -> None:
        row = self.games.get(quote.game_id)
        if row is None or quote.bookmaker != REFERENCE_BOOK or quote.market.value != "moneyline":
            return
        phase = "close" if ":close:" in quote.event_id else "open"
        row.reference.setdefault(phase, {})[quote.selection] = quote.price_decimal

    def _record(self, event, league: LeagueRatings, out: Outputs) -> None:
        if isinstance(event, GameEvent) and event.status is GameStatus.SCHEDULED:
            self.games.setdefault(event.game_id, GameRow(self._game_values(event)))
        for prediction in out.predictions:
            row = self.games.get(prediction.game_id)
            if row is None:
                continue
            p = [prediction.p_home, prediction.p_draw, prediction.p_away]
            if prediction.model == MODEL_ONLY:
                row.values.update(zip(("p_home", "p_draw", "p_away"), p, strict=True))
            else:
                if row.values.get("m_home") is None:
                    row.values.update(zip(("m_home", "m_draw", "m_away"), p, strict=True))
                    row.values.update(
                        {
                            f"q_{n}": prediction.inputs.get(f"market_{n}")
                            for n in ("home", "draw", "away")
                        }
                    )
                row.values.update(zip(("mc_home", "mc_draw", "mc_away"), p, strict=True))
        for alert in out.alerts:
            row = self.games[alert.game_id].values
            self.alerts[alert.event_id] = {
                "date": row["date"], "sport": row["sport"], "league": row["league"],
                "home": row["home"], "away": row["away"], "market": alert.market,
                "selection": alert.selection, "line": alert.line, "bookmaker": alert.bookmaker,
                "model_version": alert.model_version,
                "model_probability": alert.model_probability,
                "market_probability": alert.market_probability, "edge": alert.edge,
                "stake_fraction": alert.stake_fraction, "price_taken": alert.price_decimal,
                "minutes_before_start": round(
                    (league.upcoming[alert.game_id]["start"] - millis(alert.event_time)) / 60_000
                ),
            }  # fmt: skip
        for settlement in out.settlements:
            if settlement.settled.value == "alert" and settlement.ref_id in self.alerts:
                alert = self.alerts[settlement.ref_id]
                alert.update(profit=settlement.profit, clv=settlement.clv,
                             clv_same_book=settlement.clv_same_book)  # fmt: skip
                if settlement.clv_same_book is not None:
                    alert["closing_price"] = alert["price_taken"] / (1 + settlement.clv_same_book)
                alert["result"] = (
                    "won" if settlement.profit > 0 else "lost" if settlement.profit < 0 else "push"
                )
        if isinstance(event, GameEvent) and event.status is GameStatus.FINAL:
            row = self.games.pop(event.game_id, None)
            if row is not None and row.values.get("p_home") is not None:
                self._finish(row, event)

    @staticmethod
    def _game_values(game: GameEvent) -> dict[str, Any]:
        return {
            "date": game.start_time.date().isoformat(),
            "sport": game.sport.value,
            "league": game.league,
            "season": game.season,
            "game_type": game.game_type,
            "home": game.home_team,
            "away": game.away_team,
        }

    def _finish(self, row: GameRow, game: GameEvent) -> None:
        values = row.values
        for phase in ("open", "close"):
            prices = row.reference.get(phase, {})
            if set(prices) == {"home", "draw", "away"}:
                fair = multiplicative([prices[s] for s in ("home", "draw", "away")])
                values.update(
                    zip((f"pin_{phase}_home", f"pin_{phase}_draw", f"pin_{phase}_away"), fair,
                        strict=True)
                )  # fmt: skip
        values.update(home_score=game.home_score, away_score=game.away_score)
        three_way = values["p_draw"] is not None
        index = outcome_index(game.home_score or 0, game.away_score or 0, three_way)
        values["outcome"] = outcomes(game.sport)[index]
        self.rows.append(values)


def run_backtest(
    paths: Sequence[Path],
    params: ModelParams,
    min_change: float,
    source: str | None = None,
    progress: bool = True,
    alert_on_outliers: bool = False,
) -> Backtest:
    from streamapp.replay.catalog import timeline

    events = [e for e in timeline(paths, source=source) if e.feed in ("games", "odds")]
    backtest = Backtest(params, min_change, alert_on_outliers)
    for event in tqdm(events, desc="backtest", unit="ev", disable=not progress, mininterval=1):
        backtest.apply(event.feed, event.payload)
    backtest.finish()
    return backtest


# -- report -------------------------------------------------------------------------------


def _probabilities(row: dict[str, Any], prefix: str) -> list[float] | None:
    names = ("home", "draw", "away") if row["p_draw"] is not None else ("home", "away")
    values = [row.get(f"{prefix}_{n}") for n in names]
    return None if any(v is None for v in values) else values


def _performance(rows: list[dict[str, Any]], prefix: str) -> dict[str, Any]:
    """The ``prefix`` probabilities of the rows scored as live settlement scores them."""
    performance = new_performance()
    for row in rows:
        p = _probabilities(row, prefix)
        if p is not None:
            home, away = row["home_score"], row["away_score"]
            outcome = outcome_index(home, away, three_way=len(p) == 3)
            add_prediction(performance, p, score_prediction(p, home, away), outcome)
    return summary(performance)


def score_rows(rows: list[dict[str, Any]], prefix: str) -> dict[str, Any] | None:
    """Brier (3-way sum for soccer, one-sided otherwise) and log loss over rows that have
    the ``prefix`` probabilities."""
    figures = _performance(rows, prefix)
    if not figures["n"]:
        return None
    return {key: figures[key] for key in ("n", "brier", "log_loss")}


def _alert_figures(alerts: list[dict[str, Any]]) -> dict[str, Any]:
    settled = [a for a in alerts if a.get("profit") is not None]

    def mean(name: str) -> float | None:
        values = [a[name] for a in settled if a.get(name) is not None]
        return sum(values) / len(values) if values else None

    return {
        "alerts": len(settled),
        "roi": sum(a["profit"] for a in settled) / len(settled) if settled else None,
        "mean_clv_vs_fair_close": mean("clv"),
        "mean_clv_same_book": mean("clv_same_book"),
    }


def report(backtest: Backtest, score_from: str | None = None) -> dict[str, Any]:
    """Figures per league, per league and season, and per sport (and NBA/NFL/NHL regular
    season separately)."""
    rows = [r for r in backtest.rows if not score_from or r["date"] >= score_from]
    alerts = [a for a in backtest.alerts.values() if not score_from or a["date"] >= score_from]
    groups: dict[str, list] = defaultdict(list)
    alert_groups: dict[str, list] = defaultdict(list)
    for row in rows:
        groups[f"league:{row['sport']}:{row['league']}"].append(row)
        groups[f"season:{row['sport']}:{row['league']}:{row['season']}"].append(row)
        groups[f"sport:{row['sport']}"].append(row)
        if row["sport"] != "soccer" and row["game_type"] == "regular_season":
            groups[f"sport:{row['sport']}:regular_season"].append(row)
    for alert in alerts:
        alert_groups[f"league:{alert['sport']}:{alert['league']}"].append(alert)
        alert_groups[f"sport:{alert['sport']}"].append(alert)
        alert_groups[f"market:{alert['market']}"].append(alert)
        # Taken well before kick-off, the price can still move: only these measure CLV.
        timing = "early" if alert["minutes_before_start"] > EARLY_MINUTES else "at-close"
        alert_groups[f"timing:{timing}"].append(alert)
    figures: dict[str, Any] = {}
    for name, members in sorted(groups.items()):
        entry = {prefix_name: score_rows(members, prefix) for prefix_name, prefix in (
            (MODEL_ONLY, "p"), (f"{MARKET_AWARE}@open", "m"), (f"{MARKET_AWARE}@close", "mc"),
            ("pinnacle@open", "pin_open"), ("pinnacle@close", "pin_close"),
        )}  # fmt: skip
        # The market-aware and Pinnacle-opening figures over the same games, for comparison.
        both = [r for r in members if _probabilities(r, "m") and _probabilities(r, "pin_open")]
        if both:
            entry["same_games"] = {
                f"{MARKET_AWARE}@open": score_rows(both, "m"),
                "pinnacle@open": score_rows(both, "pin_open"),
            }
        figures[name] = {k: v for k, v in entry.items() if v}
    for name, members in sorted(alert_groups.items()):
        figures.setdefault(name, {})["alerts"] = _alert_figures(members)
    return {
        "model_version": backtest.params.version,
        "scored_from": score_from,
        "games": len(rows),
        "invalid_events": backtest.invalid,
        "alerts": _alert_figures(alerts),
        "groups": figures,
    }


def calibration_plot(rows: list[dict[str, Any]], path: Path) -> None:
    """Observed frequency against forecast probability, model-only and market-aware."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 6))
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="perfect")
    for prefix, label in (("p", MODEL_ONLY), ("m", f"{MARKET_AWARE} (open)")):
        bins = _performance(rows, prefix)["calibration"]
        ax.plot([b["forecast"] for b in bins], [b["observed"] for b in bins], marker="o",
                label=label)  # fmt: skip
    ax.set_xlabel("forecast probability")
    ax.set_ylabel("observed frequency")
    ax.set_title(f"Calibration ({len(rows):,} games)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_outputs(
    backtest: Backtest, out_dir: Path, score_from: str | None = None
) -> dict[str, Any]:
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(out_dir / "predictions.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, PREDICTION_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(backtest.rows)
    with open(out_dir / "alerts.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, ALERT_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(backtest.alerts.values())
    figures = report(backtest, score_from)
    (out_dir / "report.json").write_text(json.dumps(figures, indent=2))
    scored = [r for r in backtest.rows if not score_from or r["date"] >= score_from]
    calibration_plot(scored, out_dir / "calibration.png")
    return figures


def parse_date(value: str) -> str:
    return datetime.strptime(value, "%Y-%m-%d").date().isoformat()
