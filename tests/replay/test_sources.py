from datetime import UTC, datetime

from streamapp.replay.sources import feed_event


def test_a_feed_event_takes_its_event_time_from_an_iso_string_as_feeds_write_it():
    event = feed_event("odds", event_time="2021-06-10T12:05:00Z", sport="nba", league="NBA")
    assert event.event_time == datetime(2021, 6, 10, 12, 5, tzinfo=UTC)
    assert event.key == "nba:NBA"
    assert event.payload["event_time"] == "2021-06-10T12:05:00Z"
