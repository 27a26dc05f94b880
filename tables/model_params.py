"""Versioned model parameters: what a prediction is computed with, and its version label.

A version is a plain JSON document, so it can travel on the control topic and be stored
with every prediction that used it. Missing fields take the defaults below, so a published
version only has to name what it changes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from schemas.base import Sport

MAX_VERSION_LENGTH = 32  # Prediction.model_version


@dataclass(frozen=True)
class SportParams:
    k: float  # Elo update size
    home_advantage: float  # Elo points
    season_carry: float  # share of a rating kept across a season break
    home_advantage_step: float = 0.0  # how fast a league's home advantage follows results
    newcomer_pool: int = 0  # a team new to a league starts as the mean of its weakest N
    rest_penalty: float = 0.0  # Elo points a team loses playing on the second night of two
    # share of rest_penalty a home team loses on a back-to-back (NBA: it sleeps at home)
    home_rest_share: float = 1.0
    # Elo points a team loses playing its third game in four nights (on top of rest_penalty)
    three_in_four_penalty: float = 0.0
    strength_step: float = 0.08  # weight of the newest game in attack/defence strengths
    league_step: float = 0.01  # weight of the newest game in the league's scoring averages
    shots_weight: float = 0.0  # soccer: share of expected goals taken from shots on target
    elo_weight: float = 0.0  # soccer: share of the 1X2 taken from Elo rather than goals
    low_score_rho: float = 0.0  # soccer: Dixon-Coles correction of 0-0/1-0/0-1/1-1
    points_per_elo: float = 0.0  # NBA/NFL: expected margin per Elo point of difference
    score_sd: float = 0.0  # NBA/NFL: standard deviation of one team's score
    draw_peak: float = 0.0  # soccer Elo: draw probability of two equal teams
    # Soccer home/draw/away as an ordered logit (used when draw_cut > away_cut): the index
    # x = sum of weight x log(home/away expected count) over goals, shots on target, all
    # shots and corners (each from its own attack/defence strengths) + elo_index_weight x
    # Elo edge / 400; P(away) = s(away_cut - x), P(home) = 1 - s(draw_cut - x), s the
    # logistic. Fitted by log loss on 2014/15-2019/20 (bench/fit_outcome_index.py).
    goals_index_weight: float = 0.0
    shots_on_target_index_weight: float = 0.0
    shots_index_weight: float = 0.0
    corners_index_weight: float = 0.0
    elo_index_weight: float = 0.0
    # a second, long-memory Elo (update size slow_k, never regressed between seasons: how
    # strong a club has been over years), in the index as slow_elo_index_weight x edge / 400
    slow_k: float = 0.0
    slow_elo_index_weight: float = 0.0
    away_cut: float = 0.0
    draw_cut: float = 0.0
    # market-aware: weight of the market in the log-linear pool, fitted on past seasons
    # (bench/fit_market_weight.py; README "Model quality")
    market_weight: float = 1.0


@dataclass(frozen=True)
class ModelParams:
    version: str
    sports: dict[Sport, SportParams]
    # Smallest expected value per unit that makes a value alert, and the longest price
    # alerted. Chosen on 2012/13-2021/22 (bench/fit_alert_rules.py, README "Model quality")
    # before the evaluation seasons were scored: the market-aware probability is the
    # opening line, so any bet365 price above Pinnacle's fair one is value (early alerts
    # there: same-book CLV +1.4 %, ROI +1.1 %, 2,883 alerts); 0.02 and 6.0 gave too few
    # alerts (about 60 a season) to reach 300 in two seasons.
    value_edge: float = 0.0
    max_price_age_minutes: float = 60.0  # an older price may be gone: no alert on it
    max_price: float = 10.0  # no value alerts above (long shots: the largest errors)
    kelly_fraction: float = 0.125
    kelly_cap: float = 0.02  # largest stake, as a share of the bankroll
    alert_cooldown_hours: float = 12.0
    # No value alert on a price quoted less than this before the start: at the closing
    # price there is no line movement left to beat (same-book CLV 0 by construction) and on
    # 2012/13-2021/22 the alerts taken there lost (README "Model quality", alerts).
    alert_min_minutes_before_start: float = 60.0
    prop_impact: float = 1.5  # projected points/rebounds/... change that makes an injury alert
    simulations: int = 10_000
    # Bookmakers whose fair price alone is the market when they quote it (the sharpest).
    sharp_books: tuple[str, ...] = ("pinnacle",)

    def sport(self, sport: Sport) -> SportParams:
        return self.sports[sport]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["sports"] = {s.value: asdict(p) for s, p in self.sports.items()}
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], base: ModelParams | None = None) -> ModelParams:
        """A version from a JSON document; fields it leaves out come from ``base``."""
        base = base or DEFAULT_PARAMS
        version = data.get("version")
        if not version or not isinstance(version, str):
            raise ValueError("a model version needs a non-empty 'version' label")
        if len(version) > MAX_VERSION_LENGTH:
            # outputs carry it, and their derived ids must fit (schemas.base)
            raise ValueError(
                f"a version label has at most {MAX_VERSION_LENGTH} characters, "
                f"got {len(version)}: {version[:40]!r}…"
            )
        sports = dict(base.sports)
        for name, changes in (data.get("sports") or {}).items():
            sport = Sport(name)
            unknown = set(changes) - {f.name for f in fields(SportParams)}
            if unknown:
                raise ValueError(f"unknown parameters for {name}: {sorted(unknown)}")
            sports[sport] = replace(sports[sport], **changes)
        top = {f.name for f in fields(cls)} - {"sports"}
        unknown = set(data) - top - {"sports"}
        if unknown:
            raise ValueError(f"unknown model parameters: {sorted(unknown)}")
        changes = {k: v for k, v in data.items() if k in top}
        if "sharp_books" in changes:
            changes["sharp_books"] = tuple(changes["sharp_books"])
        return replace(base, **changes, sports=sports)


DEFAULT_PARAMS = ModelParams(
    version="v1",
    sports={
        Sport.NBA: SportParams(
            # Chosen on 2014/15-2020/21 with bench/tune_model.py (README "Model quality"):
            # train Brier 0.2111 -> 0.2106, 2020/21 0.2273 -> 0.2262. Smaller update, more
            # regression between seasons, a slower home-advantage learner; a back-to-back
            # costs the visitor 30 Elo points and the home side half that (regression on
            # the training seasons: about 35 and 15), a third game in four nights 8 more.
            # Travel distance and time zones were tried too and left out: on the training
            # seasons they fitted about 0 (or the wrong sign) beyond the back-to-backs.
            k=18.0, home_advantage=100.0, season_carry=0.65, rest_penalty=30.0,
            home_rest_share=0.5, three_in_four_penalty=8.0, home_advantage_step=1.0,
            strength_step=0.05, points_per_elo=1 / 28, score_sd=9.5,
        ),
        Sport.NFL: SportParams(
            k=20.0, home_advantage=48.0, season_carry=2 / 3, strength_step=0.1,
            points_per_elo=1 / 25, score_sd=10.0, market_weight=0.9,
        ),
        Sport.NHL: SportParams(k=8.0, home_advantage=35.0, season_carry=0.7, strength_step=0.05),
        Sport.SOCCER: SportParams(
            k=20.0, home_advantage=65.0, season_carry=0.8,
            shots_weight=0.75, elo_weight=0.3, low_score_rho=-0.08, draw_peak=0.28,
            strength_step=0.04, newcomer_pool=3, home_advantage_step=4.0,
            # ordered logit fitted on 2014/15-2019/20 (README "Model quality": train Brier
            # 0.5840 -> 0.5795 in bench/tune_model.py): corners and all shots add what shots
            # on target and Elo miss; goal strengths add nothing beyond the Elos (fitted
            # weight ~0), so they are left out (elo_weight, low_score_rho: the Poisson 1X2
            # this replaces). The long-memory Elo (k 5, never regressed) adds 0.0004. These
            # are the values scored on the evaluation seasons; bench/fit_outcome_index.py
            # refits within 0.0001 of them on the training seasons.
            shots_on_target_index_weight=0.531, shots_index_weight=0.178,
            corners_index_weight=0.406, elo_index_weight=0.719,
            slow_k=5.0, slow_elo_index_weight=0.929, away_cut=-0.48, draw_cut=0.736,
        ),
    },
)  # fmt: skip
