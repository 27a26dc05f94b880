"""A local stand-in for The Odds API, ESPN and the NBA's injury report that answers with the
real captured responses of ``<data>/feeds`` (see its PROVENANCE.md): `streamapp demo --live`
feeds a worker through it without an API key, and the connector tests run against it.

Each path answers with the capture of that sport or league where one exists; a sport's odds
are also cut out of the multi-sport capture. A game summary is served for the event id its
capture holds. Every injury-report file name is answered with the newest captured report
(the demo asks for the current quarter hour, which no capture has: only the name differs).
``bodies`` can be changed while serving (a moved price, a truncated body).
"""

from __future__ import annotations

import json
from pathlib import Path

from aiohttp import web

ODDS = {
    "basketball_nba": "odds_basketball_nba_h2h-spreads_decimal_us_2023-12-11.json",
    "americanfootball_nfl": "odds_americanfootball_nfl_h2h-spreads-totals_decimal_draftkings_2022-09-27.json",  # noqa: E501
    "soccer_italy_serie_a": "odds_soccer_italy_serie_a_h2h-3way-h2h_lay_decimal_eu_2021-11-11.json",
}
MULTI_SPORT_ODDS = "odds_multisport_nba-nhl-mlb-epl-ucl_h2h_decimal_us_2025-03-10.json"
# An ESPN scoreboard's (and an Odds API /scores) event time is when it was received (they
# carry no update time), and a game more than two years from its event time is refused:
# the 2022 NFL and NHL scoreboards and the 2022 NFL scores would only make dead letters
# today, so they are not served.
SCOREBOARDS = {
    "basketball/nba": "scoreboard_basketball_nba_2026-03-01_scheduled-with-odds.json",
    "soccer/eng.1": "scoreboard_soccer_eng.1_2025-09-27_fulltime-and-scheduled.json",
}
INJURY_REPORT = "Injury-Report_2026-02-08_06_30PM.pdf"


class CapturedProviders:
    """``bodies``: path -> the body served there (summaries: ``…/summary?event=ID``)."""

    def __init__(self, feeds: Path) -> None:
        self.feeds = feeds
        self.bodies: dict[str, bytes] = {}
        self.calls: dict[str, int] = {}
        odds_api = feeds / "the-odds-api"
        for sport, name in ODDS.items():
            self.bodies[f"/v4/sports/{sport}/odds"] = (odds_api / name).read_bytes()
        by_sport: dict[str, list] = {}
        for event in json.loads((odds_api / MULTI_SPORT_ODDS).read_bytes()):
            if event["sport_key"] not in ODDS:  # a sport's own capture is served whole
                by_sport.setdefault(event["sport_key"], []).append(event)
        for sport, events in by_sport.items():
            self.bodies[f"/v4/sports/{sport}/odds"] = json.dumps(events).encode()
        espn = feeds / "espn"
        for league, name in SCOREBOARDS.items():
            path = f"/apis/site/v2/sports/{league}/scoreboard"
            self.bodies[path] = (espn / name).read_bytes()
        for capture in sorted(espn.glob("summary_*.json")):
            body = capture.read_bytes()
            league = "/".join(capture.name.split("_")[1:3])
            event = json.loads(body)["header"]["id"]
            self.bodies[f"/apis/site/v2/sports/{league}/summary?event={event}"] = body
        self.injury_report = (feeds / "nba-official" / INJURY_REPORT).read_bytes()

    def application(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/referee/injury/{name}", self._injury_report)
        app.router.add_get("/{tail:.*}", self._serve)
        return app

    async def _serve(self, request: web.Request) -> web.Response:
        path = request.path
        if path.endswith("/summary"):
            path = f"{path}?event={request.query.get('event', '')}"
        self.calls[path] = self.calls.get(path, 0) + 1
        body = self.bodies.get(path)
        if body is None:
            if path.endswith("/scores") or path.endswith("/odds"):
                return web.json_response([])  # a sport with nothing on
            if path.endswith("/scoreboard"):
                return web.json_response({"events": []})
            return web.Response(status=404)
        return web.Response(body=body, content_type="application/json")

    async def _injury_report(self, request: web.Request) -> web.Response:
        self.calls[request.path] = self.calls.get(request.path, 0) + 1
        return web.Response(body=self.injury_report, content_type="application/pdf")
