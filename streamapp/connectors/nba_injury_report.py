"""The NBA's official injury report (PDF) -> InjuryReport, one per listed player.

Read with pdfplumber from the words' positions: the header row gives each column's left
edge, every word goes to the column it starts in. Traps handled (feeds/FORMAT-NOTES.md):
Date / Time / Matchup / Team are blank on continuation rows (carried forward, also across
pages); a long Reason wraps onto a line above and below its row, so reason-only lines join
the nearest player row; "NOT YET SUBMITTED" rows name no player; the title line of the 2021
reports is in a garbled font, so the report's time is taken from the file name instead.
Every issue is cumulative: change detection (``changes``) keeps only status changes.
"""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime
from typing import Any, NamedTuple

import pdfplumber
from pdfplumber.utils.exceptions import PdfminerException

from schemas.injury import InjuryReport, InjuryStatus
from streamapp.connectors.changes import stable_event_id
from streamapp.connectors.exceptions import ResponseFormatError, UnknownTeam
from streamapp.connectors.leagues import NBA
from streamapp.connectors.parsing import (
    NOT_FOLLOWED,
    UNKNOWN_TEAM,
    US_EASTERN,
    Parsed,
    Skipped,
    build,
)
from streamapp.connectors.teams import resolve_team
from streamapp.replay.football_data import slug

PROVIDER = "nba-official"
COLUMNS = ("date", "time", "matchup", "team", "player", "status", "reason")
# The first word of each column's header, in order ("Game Date", "Game Time", ...).
HEADER_WORDS = ("Game", "Game", "Matchup", "Team", "Player", "Current", "Reason")
FORWARD_FILLED = ("date", "time", "matchup", "team")
STATUSES = {status.value.title(): status for status in InjuryStatus}
NO_PLAYER_ROWS = ("NOT YET SUBMITTED", "ALL PLAYERS AVAILABLE")
# Words whose tops lie within this many points share a line.
LINE_TOLERANCE = 2.0
# The title's text is 1.6 to 2.2 times the table's; the table's heights vary by rounding.
TITLE_SCALE = 1.2
# A wrapped reason's lines lie 7 points above and below their row, rows 22 points apart.
WRAP_DISTANCE = 11.0
# A cell's text starts a little right of its column header.
COLUMN_SLACK = 3.0
# Characters closer than this are one word: pdfplumber's default (3) glues "Adebayo," to
# "Bam" in the 2026 reports.
WORD_GAP = 1.0
FILE_TIME = re.compile(
    r"Injury-Report_(?P<day>\d{4}-\d{2}-\d{2})_(?P<hour>\d{2})(?:_(?P<minute>\d{2}))?"
    r"(?P<half>AM|PM)"
)
PAGE_FOOTER = re.compile(r"^Page \d+ of \d+$")


class Row(NamedTuple):
    """One row of the report as printed, with its blank cells carried forward."""

    date: str
    time: str
    matchup: str
    team: str
    player: str
    status: str
    reason: str


def report_time_from_name(name: str) -> datetime:
    """``Injury-Report_2026-02-08_06_15PM.pdf`` (or the older ``…_12AM.pdf``) -> the
    report's time in UTC (the name gives US Eastern time)."""
    match = FILE_TIME.search(name)
    if not match:
        raise ValueError(f"{name!r} is not an NBA injury report file name")
    local = datetime.strptime(
        f"{match['day']} {match['hour']}:{match['minute'] or '00'} {match['half']}",
        "%Y-%m-%d %I:%M %p",
    )
    return local.replace(tzinfo=US_EASTERN).astimezone(UTC)


def _lines(words: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    lines: list[list[dict[str, Any]]] = []
    for word in sorted(words, key=lambda w: (w["top"], w["x0"])):
        if lines and abs(lines[-1][0]["top"] - word["top"]) <= LINE_TOLERANCE:
            lines[-1].append(word)
        else:
            lines.append([word])
    return lines


class _Layout(NamedTuple):
    """Where the table's columns start, from the header row (printed on the first page
    only), and the header's text height: taller text is the title, not the table."""

    starts: list[float]
    text_height: float


def _header(lines: list[list[dict[str, Any]]]) -> tuple[int, _Layout] | None:
    for index, line in enumerate(lines):
        texts = [w["text"] for w in line]
        if "Matchup" in texts and "Reason" in texts:
            starts, position = [], 0
            for header in HEADER_WORDS:
                position = texts.index(header, position)
                starts.append(line[position]["x0"] - COLUMN_SLACK)
                position += 1
            return index, _Layout(starts, max(w["height"] for w in line))
    return None


def _cells(line: list[dict[str, Any]], starts: list[float]) -> dict[str, str]:
    cells: dict[str, list[str]] = {}
    for word in sorted(line, key=lambda w: w["x0"]):
        column = max((i for i, start in enumerate(starts) if word["x0"] >= start), default=0)
        cells.setdefault(COLUMNS[column], []).append(word["text"])
    return {column: " ".join(texts) for column, texts in cells.items()}


class _Line(NamedTuple):
    page: int
    top: float
    cells: dict[str, str]


def _table_lines(pdf) -> list[_Line]:
    """Every table line of every page: no title, header or page footer."""
    layout: _Layout | None = None
    table = []
    for number, page in enumerate(pdf.pages):
        lines = _lines(page.extract_words(x_tolerance=WORD_GAP))
        header = _header(lines)
        if header:
            header_index, layout = header
            lines = lines[header_index + 1 :]
        if layout is None:
            continue  # no table before its header
        for line in lines:
            text = " ".join(w["text"] for w in line)
            if (
                PAGE_FOOTER.match(text)
                or max(w["height"] for w in line) > layout.text_height * TITLE_SCALE
            ):
                continue
            table.append(_Line(number, line[0]["top"], _cells(line, layout.starts)))
    return table


def read_rows(data: bytes) -> list[Row]:
    """Every row of the report, reasons rejoined and blank cells carried forward."""
    try:
        with pdfplumber.open(io.BytesIO(data)) as pdf:
            lines = _table_lines(pdf)
    except PdfminerException as error:
        raise ResponseFormatError(f"not a readable PDF: {error}") from None
    anchors = [i for i, line in enumerate(lines) if set(line.cells) - {"reason"}]
    if not anchors:
        raise ResponseFormatError("no injury report table found in the PDF")
    reasons: dict[int, list[str]] = {i: [] for i in anchors}
    for i, line in enumerate(lines):
        if "reason" not in line.cells:
            continue
        # A wrapped reason's lines sit half a line above and below its row; a line further
        # from every row continues the row before it, across a page break too.
        near = [
            a for a in anchors
            if lines[a].page == line.page and abs(lines[a].top - line.top) <= WRAP_DISTANCE
        ]  # fmt: skip
        earlier = [a for a in anchors if a < i]
        if not (near or earlier):
            raise ResponseFormatError(f"a reason line before any player row: {line.cells}")
        owner = min(near, key=lambda a: abs(lines[a].top - line.top)) if near else earlier[-1]
        reasons[owner].append(line.cells["reason"])
    rows, carried = [], dict.fromkeys(FORWARD_FILLED, "")
    for i in anchors:
        cells = lines[i].cells
        carried = {column: cells.get(column) or carried[column] for column in FORWARD_FILLED}
        rows.append(
            Row(
                **carried,
                player=cells.get("player", ""),
                status=cells.get("status", ""),
                reason=" ".join(reasons[i]),
            )
        )
    return rows


def _player_name(official: str) -> str:
    """ "Jaquez Jr., Jaime" -> "Jaime Jaquez Jr."."""
    last, _, first = official.partition(", ")
    return f"{first} {last}" if first else official


def parse_injury_report(data: bytes, report_time: datetime) -> Parsed:
    """One InjuryReport per player row of the PDF ``data``, issued at ``report_time``
    (``report_time_from_name``). Rows without a player ("NOT YET SUBMITTED") and unknown
    teams are skipped with their reason."""
    events: list[InjuryReport] = []
    skipped: list[Skipped] = []
    for row in read_rows(data):
        item = f"{row.date} {row.matchup} {row.team} {row.player or row.reason}"
        status = STATUSES.get(row.status)
        if status is None:
            no_player = next((text for text in NO_PLAYER_ROWS if text in " ".join(row)), None)
            if no_player:
                skipped.append(Skipped(item, no_player, NOT_FOLLOWED))
            else:
                skipped.append(Skipped(item, f"no status in row {row!r}"))
            continue
        try:
            team = resolve_team(PROVIDER, NBA.code, row.team)
        except UnknownTeam as error:
            skipped.append(Skipped(item, str(error), UNKNOWN_TEAM))
            continue
        name = _player_name(row.player)
        player_id = slug(name)
        report = build(
            InjuryReport,
            item,
            skipped,
            event_id=stable_event_id(PROVIDER, "injury", team, player_id, status, report_time),
            event_time=report_time,
            sport=NBA.sport,
            league=NBA.code,
            team=team,
            player_id=player_id,
            player_name=name,
            status=status,
            reason=row.reason or None,
        )
        if report:
            events.append(report)
    return Parsed(events, skipped)
