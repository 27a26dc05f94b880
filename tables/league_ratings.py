"""One league's Elo state: ratings, season, upcoming fixtures and the predictions they need.

The state is a plain dict in a faust table keyed by league, so every team of a league is
rated in one place and in the order results arrive.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from schemas.base import Sport
from schemas.game import GameEvent, GameStatus
from schemas.prediction import Prediction
from tables.elo import ELO_PARAMS, MEAN_RATING, regressed, updated_ratings, win_probabilities
from tables.strengths import START_GOALS, carried_into_new_season, updated_strengths

MODEL_NAME = "elo"
MODEL_VERSION = "elo-1"
# Finals remembered per league so a corrected re-send of a result is not counted twice.
REMEMBERED_FINALS = 500
# The rolling Brier score is a plain mean over the first games, then weighs this many.
BRIER_WINDOW = 100


@dataclass
class LeagueRatings:
    sport: Sport
    league: str
    season: str = ""
    ratings: dict[str, float] = field(default_factory=dict)
    upcoming: dict[str, dict[str, Any]] = field(default_factory=dict)
    finished: deque[str] = field(default_factory=lambda: deque(maxlen=REMEMBERED_FINALS))
    # Soccer only: attack/defence per team and the league's home/away goal averages.
    strengths: dict[str, dict[str, float]] = field(default_factory=dict)
    goals: dict[str, float] = field(default_factory=lambda: dict(START_GOALS))
    # Rolling Brier score of the last pregame prediction of each finished game.
    brier: float | None = None
    scored: int = 0

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LeagueRatings:
        return cls(
            sport=Sport(data["sport"]),
            league=data["league"],
            season=data.get("season", ""),
            ratings=dict(data.get("ratings", {})),
            upcoming=dict(data.get("upcoming", {})),
            finished=deque(data.get("finished", ()), maxlen=REMEMBERED_FINALS),
            strengths=dict(data.get("strengths", {})),
            goals=dict(data.get("goals", START_GOALS)),
            brier=data.get("brier"),
            scored=data.get("scored", 0),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "sport": self.sport.value,
            "league": self.league,
            "season": self.season,
            "ratings": self.ratings,
            "upcoming": self.upcoming,
            "finished": list(self.finished),
            "strengths": self.strengths,
            "goals": self.goals,
            "brier": self.brier,
            "scored": self.scored,
        }

    def rating(self, team: str) -> float:
        return self.ratings.get(team, MEAN_RATING)

    def _enter_season(self, season: str) -> None:
        # Seasons are labelled so that later ones sort higher ("2021-22", "NBA_2021").
        if season <= self.season:
            return
        if self.season:
            params = ELO_PARAMS[self.sport]
            self.ratings = {team: regressed(r, params) for team, r in self.ratings.items()}
            self.strengths = carried_into_new_season(self.strengths)
        self.season = season

    def observe(self, game: GameEvent) -> list[str]:
        """Apply one game event; return the upcoming games whose prediction may have moved."""
        self._enter_season(game.season)
        if game.game_id in self.finished:
            # Already over: a fixture or result delivered again after a restart changes nothing.
            return []
        if game.status is GameStatus.SCHEDULED:
            entry = self.upcoming.setdefault(game.game_id, {"last": None})
            entry.update(
                home=game.home_team, away=game.away_team, start=game.start_time.isoformat()
            )
            return [game.game_id]
        if game.status in (GameStatus.POSTPONED, GameStatus.CANCELLED):
            self.upcoming.pop(game.game_id, None)
            return []
        if game.status is not GameStatus.FINAL:
            return []
        entry = self.upcoming.pop(game.game_id, None)
        if entry and entry["last"] is not None:
            self._score(entry["last"], game)
        self.finished.append(game.game_id)
        home, away = game.home_team, game.away_team
        self.ratings[home], self.ratings[away] = updated_ratings(
            self.sport,
            self.rating(home),
            self.rating(away),
            game.home_score or 0,
            game.away_score or 0,
            ELO_PARAMS[self.sport],
        )
        if self.sport is Sport.SOCCER:
            self.strengths, self.goals = updated_strengths(
                self.strengths, self.goals, home, away, game.home_score or 0, game.away_score or 0
            )
        return [
            game_id
            for game_id, entry in self.upcoming.items()
            if {entry["home"], entry["away"]} & {home, away}
        ]

    def _score(self, last: list[float], game: GameEvent) -> None:
        home, away = game.home_score or 0, game.away_score or 0
        outcome = [float(home > away), float(home == away), float(home < away)]
        if self.sport is Sport.SOCCER:
            score = sum((p - o) ** 2 for p, o in zip(last, outcome, strict=True))
        else:
            score = (last[0] - outcome[0]) ** 2
        self.scored += 1
        weight = 1.0 / min(self.scored, BRIER_WINDOW)
        self.brier = score if self.brier is None else (1 - weight) * self.brier + weight * score

    def prediction_if_moved(
        self, game_id: str, trigger: GameEvent, min_change: float
    ) -> Prediction | None:
        """The game's prediction now, or None when no probability moved by ``min_change``."""
        entry = self.upcoming[game_id]
        home_rating, away_rating = self.rating(entry["home"]), self.rating(entry["away"])
        p_home, p_draw, p_away = win_probabilities(home_rating, away_rating, ELO_PARAMS[self.sport])
        current = [p_home, p_draw or 0.0, p_away]
        last = entry["last"]
        if last is not None and largest_change(current, last) < min_change:
            return None
        entry["last"] = current
        return Prediction(
            event_id=f"{game_id}:{MODEL_VERSION}:{trigger.event_id}",
            event_time=trigger.event_time,
            sport=self.sport,
            league=self.league,
            game_id=game_id,
            model=MODEL_NAME,
            model_version=MODEL_VERSION,
            home_team=entry["home"],
            away_team=entry["away"],
            start_time=entry["start"],
            p_home=p_home,
            p_draw=p_draw,
            p_away=p_away,
            inputs={"home_rating": home_rating, "away_rating": away_rating},
        )


def largest_change(current: list[float], last: list[float]) -> float:
    return max(abs(a - b) for a, b in zip(current, last, strict=True))
