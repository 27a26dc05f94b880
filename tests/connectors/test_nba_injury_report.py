from __future__ import annotations

import csv
from datetime import UTC, datetime

import pytest

from streamapp.connectors.changes import detect_changes
from streamapp.connectors.exceptions import ResponseFormatError
from streamapp.connectors.nba_injury_report import (
    parse_injury_report,
    read_rows,
    report_time_from_name,
)
from tests.connectors.conftest import FEEDS, capture

REPORT_0615 = "nba-official/Injury-Report_2026-02-08_06_15PM.pdf"
REPORT_0630 = "nba-official/Injury-Report_2026-02-08_06_30PM.pdf"
REPORT_2021 = "nba-official/Injury-Report_2021-10-19_12AM.pdf"


def parse(name):
    return parse_injury_report(capture(name), report_time_from_name(name))


def rows_by_player(name):
    return {(row.team, row.player): row for row in read_rows(capture(name)) if row.status}


def test_report_time_from_both_file_name_formats():
    assert report_time_from_name(REPORT_0615) == datetime(2026, 2, 8, 23, 15, tzinfo=UTC)
    assert report_time_from_name(REPORT_2021) == datetime(
        2021, 10, 19, 4, 0, tzinfo=UTC
    )  # 12 AM EDT


@pytest.mark.parametrize("name", [REPORT_0615, REPORT_0630])
def test_every_player_and_status_matches_an_independent_parse(name):
    # LucasB19's CSV is another parser's reading of the same PDF: team, player and status
    # must agree row for row (its date and reason columns are lossy, see below).
    with open(FEEDS / name.replace(".pdf", ".parsed-by-LucasB19.csv"), newline="") as handle:
        expected = {(r["team"], r["player"]): r["status"] for r in csv.DictReader(handle)}
    assert {key: row.status for key, row in rows_by_player(name).items()} == expected


def test_a_reason_wrapped_above_and_below_its_row_is_joined():
    herro = rows_by_player(REPORT_0615)[("Miami Heat", "Herro, Tyler")]
    assert herro.reason == "Injury/Illness - Right Costochondral; Injury to the Ribs"
    poeltl = rows_by_player(REPORT_0615)[("Toronto Raptors", "Poeltl, Jakob")]
    # LucasB19 gives "Return to Competition" to Chris Paul above: the line sits 7 points
    # above Poeltl's row and 22 below Paul's.
    assert poeltl.reason == "Return to Competition Reconditioning"


def test_a_row_split_across_pages_keeps_its_reason():
    toppin = rows_by_player(REPORT_0615)[("Indiana Pacers", "Toppin, Obi")]
    assert toppin.reason == "Injury/Illness - Right Foot; Stress Fracture"  # "Fracture" on page 2


def test_blank_cells_are_carried_forward_across_pages():
    # Zubac's row opens page 3 with only player, status and reason: the rest is page 2's.
    zubac = rows_by_player(REPORT_0615)[("Indiana Pacers", "Zubac, Ivica")]
    assert (zubac.date, zubac.time, zubac.matchup, zubac.status) == (
        "02/08/2026", "03:00 (ET)", "IND@TOR", "Out")  # fmt: skip


def test_a_new_date_is_carried_to_the_following_games():
    # The PDF prints "02/09/2026" once, on Duren's row (DET@CHA, page 4); CHI@BKN follows
    # with a blank date. LucasB19's CSV gives both 02/08/2026, which the PDF does not say.
    duren = rows_by_player(REPORT_0615)[("Detroit Pistons", "Duren, Jalen")]
    assert (duren.date, duren.time, duren.matchup) == ("02/09/2026", "07:00 (ET)", "DET@CHA")
    jones = rows_by_player(REPORT_0615)[("Chicago Bulls", "Jones, Tre")]
    assert (jones.date, jones.time, jones.matchup, jones.status) == (
        "02/09/2026", "07:30 (ET)", "CHI@BKN", "Doubtful")  # fmt: skip


def test_the_2021_layout_with_a_garbled_title_and_not_yet_submitted_rows():
    parsed = parse(REPORT_2021)
    irving = next(e for e in parsed.events if e.player_name == "Kyrie Irving")
    assert (irving.team, irving.status.value, irving.reason) == ("BKN", "OUT", "Not With Team")
    monk = next(e for e in parsed.events if e.player_name == "Malik Monk")
    assert (monk.team, monk.status.value) == ("LAL", "PROBABLE")
    assert len(parsed.events) == 14
    assert {s.reason for s in parsed.skipped} == {"NOT YET SUBMITTED"}


def test_suffixes_stay_with_the_last_name():
    jaquez = next(e for e in parse(REPORT_0615).events if e.player_id == "jaime-jaquez-jr")
    assert (jaquez.player_name, jaquez.team, jaquez.status.value) == (
        "Jaime Jaquez Jr.",
        "MIA",
        "AVAILABLE",
    )


def test_the_next_issue_reports_only_status_changes():
    first, second = parse(REPORT_0615).events, parse(REPORT_0630).events
    changes = detect_changes(detect_changes({}, first).snapshot, second).events
    before = {(e.team, e.player_id): e.status for e in first}
    assert changes, "the 06:30 report changed some statuses"
    for event in changes:
        assert before.get((event.team, event.player_id)) != event.status
    assert len(changes) == sum(before.get((e.team, e.player_id)) != e.status for e in second)


def test_not_a_pdf_raises_response_format_error():
    with pytest.raises(ResponseFormatError):
        parse_injury_report(b"<html>maintenance</html>", datetime(2026, 1, 1, tzinfo=UTC))
