from schemas.recent_events import RecentEvents


def test_it_keeps_the_latest_written_and_forgets_the_oldest_first():
    recent = RecentEvents(kept=2)
    recent.remember(b"a", 1)
    recent.remember(b"b", 2)
    assert recent.get(b"a") == 1  # read: not made younger
    recent.remember(b"c", 3)
    assert (recent.get(b"a"), recent.get(b"b"), recent.get(b"c")) == (None, 2, 3)
    assert len(recent) == 2


def test_written_again_it_holds_the_latest_object():
    recent = RecentEvents(kept=2)
    recent.remember(b"a", 1)
    recent.remember(b"a", 4)
    assert recent.get(b"a") == 4 and len(recent) == 1
    recent.clear()
    assert recent.get(b"a") is None and len(recent) == 0
