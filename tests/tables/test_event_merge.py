from __future__ import annotations

from tables.event_merge import complete_through, new_merge, push, release

FEEDS = ("games", "odds")


def released(*args, **kwargs) -> list[tuple[str, str]]:
    return [(r.feed, r.payload) for r in release(*args, **kwargs)]


DAY = 24 * 3600 * 1000


def test_events_wait_for_the_slower_feed_and_come_out_in_event_time_order():
    merge = new_merge()
    push(merge, "games", 10, "g:0", 0, "fixture")
    push(merge, "games", 50, "g:0", 1, "final")
    assert released(merge, FEEDS, 0) == []  # no odds seen yet
    push(merge, "odds", 20, "o:0", 0, "open")
    # the games feed is past 20, so it cannot bring anything before the opening price
    assert released(merge, FEEDS, 0) == [("games", "fixture"), ("odds", "open")]
    push(merge, "odds", 50, "o:0", 1, "close")
    # the final goes out; the closing price waits: another game event at 50 would go first
    assert released(merge, FEEDS, 0) == [("games", "final")]
    push(merge, "odds", 60, "o:0", 2, "in play")
    assert released(merge, FEEDS, 0) == []
    push(merge, "games", 70, "g:0", 2, "next")
    assert released(merge, FEEDS, 0) == [("odds", "close"), ("odds", "in play")]


def test_a_price_waits_for_game_events_of_its_instant_but_not_the_reverse():
    merge = new_merge()
    push(merge, "odds", 40, "o:0", 0, "price")
    push(merge, "games", 40, "g:0", 0, "kick-off")
    assert released(merge, FEEDS, 0) == [("games", "kick-off")]
    merge = new_merge()
    push(merge, "games", 40, "g:0", 0, "kick-off")
    push(merge, "odds", 40, "o:0", 0, "price")
    push(merge, "games", 40, "g:0", 1, "line-up")  # game events at 40 sort before the price
    push(merge, "odds", 41, "o:0", 1, "next price")
    assert released(merge, FEEDS, 0) == [("games", "kick-off"), ("games", "line-up")]


def test_an_idle_input_holds_nothing_back():
    """Live: a fixture, then quotes for hours while the games feed says nothing. Once the
    agent has read everything the games topic holds (idle), each quote goes out at once."""
    merge = new_merge()
    push(merge, "games", 10, "g:0", 0, "fixture")
    assert released(merge, FEEDS, 0) == []  # odds never seen: not idle, it may bring anything
    assert released(merge, FEEDS, 0, idle=frozenset({"odds"})) == [("games", "fixture")]
    push(merge, "odds", 1000, "o:0", 0, "quote")
    assert released(merge, FEEDS, 0) == []
    assert released(merge, FEEDS, 0, idle=frozenset({"games"})) == [("odds", "quote")]
    push(merge, "odds", 2000, "o:0", 1, "next quote")
    push(merge, "games", 2000, "g:0", 1, "kick-off")
    assert released(merge, FEEDS, 0, idle=frozenset(FEEDS)) == [
        ("games", "kick-off"),
        ("odds", "next quote"),
    ]


def test_an_event_from_before_the_live_window_never_passes_an_idle_input():
    """A replayed or backlogged event (older than ``live_from``) is not in a hurry: it waits
    for the other feed's own progress, even with every input idle, so a games batch that
    reaches the broker long after the odds batch after it still goes first (the CI's
    PostgreSQL-outage run lost the order that way while one idle quiet time was enough).
    A live quote passes the idle games input at once."""
    merge = new_merge()
    push(merge, "games", 10, "g:0", 0, "fixture")
    push(merge, "odds", 20, "o:0", 0, "old quote")
    push(merge, "odds", 5 * DAY, "o:0", 1, "live quote")
    every_input = frozenset(FEEDS)
    assert released(merge, FEEDS, 0, idle=every_input, live_from=DAY) == [("games", "fixture")]
    push(merge, "games", 15, "g:0", 1, "late final")  # the games batch that came behind
    assert released(merge, FEEDS, 0, idle=every_input, live_from=DAY) == [("games", "late final")]
    push(merge, "games", 30, "g:0", 2, "next fixture")
    assert released(merge, FEEDS, 0, idle=every_input, live_from=DAY) == [
        ("odds", "old quote"),
        ("games", "next fixture"),
        ("odds", "live quote"),  # live: the idle games input holds it back no more
    ]
    merge = new_merge()
    push(merge, "games", 10, "g:0", 0, "fixture")
    push(merge, "odds", 5 * DAY, "o:0", 0, "live quote")
    assert released(merge, FEEDS, 0, idle=frozenset({"games"}), live_from=DAY) == [
        ("games", "fixture"),
        ("odds", "live quote"),
    ]


def test_a_watermark_lets_through_what_its_feed_can_no_longer_precede():
    """A watermark through T is a feed's promise that everything up to T was sent: a games
    event at T + 1 goes out (odds at that instant sort after it), an odds event at T + 1
    still waits for games of that instant, and for the odds feed's own watermark through
    it (the rest of its instant). Replayed events, idle or not."""
    every_input = frozenset(FEEDS)
    merge = new_merge()
    push(merge, "odds", 20, "o:0", 0, "quote at 20")
    push(merge, "games", 30, "g:0", 0, "final at 30")
    assert released(merge, FEEDS, 0, idle=every_input, live_from=DAY) == []  # more at 20?
    complete_through(merge, "odds", 28)
    assert released(merge, FEEDS, 0, idle=every_input, live_from=DAY) == [("odds", "quote at 20")]
    complete_through(merge, "odds", 29)
    assert released(merge, FEEDS, 0, live_from=DAY) == [("games", "final at 30")]
    push(merge, "odds", 40, "o:0", 1, "quote at 40")
    complete_through(merge, "games", 39)
    assert released(merge, FEEDS, 0, live_from=DAY) == []  # a game event at 40 goes first
    complete_through(merge, "games", 40)
    assert released(merge, FEEDS, 0, live_from=DAY) == []  # more odds at 40?
    complete_through(merge, "odds", 40)
    assert released(merge, FEEDS, 0, live_from=DAY) == [("odds", "quote at 40")]
    complete_through(merge, "games", 35)  # an older watermark moves nothing back
    assert merge["seen"]["games"] == 41


def test_a_replayed_quote_goes_out_with_the_rest_of_its_instant():
    """The fold forecasts once after an instant's last quote (LeagueRatings.observe), so
    a replayed quote waits until the odds feed is past its instant, however the batches
    cut it; a live one goes out at once, and game events never wait for their own feed."""
    merge = new_merge()
    push(merge, "games", 10, "g:0", 0, "fixture")
    push(merge, "odds", 20, "o:0", 0, "bet365 at 20")
    push(merge, "games", 30, "g:0", 1, "final at 30")
    assert released(merge, FEEDS, 0, live_from=DAY) == [("games", "fixture")]
    push(merge, "odds", 20, "o:0", 1, "pinnacle at 20")
    assert released(merge, FEEDS, 0, live_from=DAY) == []
    push(merge, "odds", 35, "o:0", 2, "bet365 at 35")
    assert released(merge, FEEDS, 0, live_from=DAY) == [
        ("odds", "bet365 at 20"),
        ("odds", "pinnacle at 20"),
        ("games", "final at 30"),
    ]
    merge = new_merge()
    push(merge, "games", 10, "g:0", 0, "fixture")
    push(merge, "odds", 20, "o:0", 0, "live quote")
    push(merge, "games", 30, "g:0", 1, "final at 30")
    assert released(merge, FEEDS, 0, live_from=15) == [("games", "fixture"), ("odds", "live quote")]


def test_any_arrival_order_gives_the_same_sequence():
    events = [("games", 5, 0, "a"), ("odds", 5, 0, "b"), ("odds", 7, 1, "c"), ("games", 9, 1, "d")]
    orders = [events, list(reversed(events)), events[1::2] + events[::2]]
    results = []
    for order in orders:
        merge = new_merge()
        for feed, at, offset, payload in sorted(order, key=lambda e: (e[0], e[2])):
            push(merge, feed, at, feed, offset, payload)
        push(merge, "games", 100, "games", 9, "later")
        push(merge, "odds", 100, "odds", 9, "later")
        results.append(released(merge, FEEDS, 0))
    assert results[0] == results[1] == results[2]
    assert [p for _, p in results[0]] == ["a", "b", "c", "d", "later"]  # games first at ties


def test_a_redelivered_offset_is_ignored():
    merge = new_merge()
    assert push(merge, "games", 10, "g:0", 3, "x")
    assert not push(merge, "games", 10, "g:0", 3, "x")
    assert len(merge["pending"]) == 1


def test_a_stopped_feed_holds_events_back_only_for_max_wait_seconds():
    merge = new_merge()
    push(merge, "games", 0, "g:0", 0, "old", arrived=100.0)
    push(merge, "games", 3 * DAY, "g:0", 1, "new", arrived=200.0)
    assert released(merge, FEEDS, max_wait=300, now=350.0) == []
    assert released(merge, FEEDS, max_wait=300, now=400.0) == [("games", "old")]
    assert released(merge, FEEDS, max_wait=300, now=500.0) == [("games", "new")]


def test_an_event_sent_twice_upstream_waits_once():
    merge = new_merge()
    assert push(merge, "odds", 10, "o:0", 0, "quote")
    assert not push(merge, "odds", 10, "o:0", 1, "quote")  # re-sent: a new offset, same event
    push(merge, "games", 20, "g:0", 0, "final")
    push(merge, "odds", 30, "o:0", 2, "later")
    assert released(merge, FEEDS) == [("odds", "quote"), ("games", "final")]


def test_the_events_of_one_batched_message_keep_their_order_and_place():
    merge = new_merge()
    # one clean message (offset 4) holding three quotes of one instant, pushed in order
    for item, payload in enumerate(["first", "second", "third"]):
        assert push(merge, "odds", 10, "o:0", 4, payload, item=item)
    assert not push(merge, "odds", 10, "o:0", 4, "second", item=1)  # redelivered
    assert push(merge, "odds", 10, "o:0", 5, "next message", item=0)
    push(merge, "games", 20, "g:0", 0, "final")
    out = release(merge, FEEDS)
    assert [(r.payload, r.offset, r.item) for r in out] == [
        ("first", 4, 0),
        ("second", 4, 1),
        ("third", 4, 2),
        ("next message", 5, 0),
    ]


def test_an_event_of_a_whole_message_is_released_without_a_place():
    merge = new_merge()
    push(merge, "odds", 10, "o:0", 0, "quote")
    push(merge, "games", 20, "g:0", 0, "final")
    [quote] = release(merge, FEEDS)
    assert (quote.offset, quote.item) == (0, None)
