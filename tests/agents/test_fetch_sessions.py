"""The fetch session's bookkeeping: what each request names, and what an answer does to
the session (the real broker's side: tests/integration/test_fetch_sessions.py)."""

from __future__ import annotations

from aiokafka.protocol.fetch import (
    FetchRequest,
    FetchRequest_v4,
    FetchRequest_v11,
    FetchResponse_v4,
    FetchResponse_v11,
)
from aiokafka.structs import TopicPartition

from agents.fetch_sessions import LAST_EPOCH, NO_SESSION, FetchSession, wanted_of

MOST = 1_048_576
A0, A1, B0 = TopicPartition("a", 0), TopicPartition("a", 1), TopicPartition("b", 0)


def full_request(offsets: dict[TopicPartition, int]) -> FetchRequest:
    topics: dict[str, list] = {}
    for tp, offset in offsets.items():
        topics.setdefault(tp.topic, []).append((tp.partition, offset, MOST))
    return FetchRequest(500, 1, 52_428_800, 0, list(topics.items()))


def answer(session_id: int, *tps: TopicPartition, error: int = 0) -> FetchResponse_v11:
    topics: dict[str, list] = {}
    for tp in tps:
        topics.setdefault(tp.topic, []).append((tp.partition, 0, 10, 10, 0, [], -1, b""))
    return FetchResponse_v11(0, error, session_id, list(topics.items()))


def sent(session: FetchSession, offsets: dict[TopicPartition, int]) -> FetchRequest_v11:
    request = full_request(offsets)
    return session.request(request, wanted_of(request)).build(FetchRequest_v11)


def named(struct: FetchRequest_v11) -> dict[TopicPartition, int]:
    return {TopicPartition(topic, p[0]): p[2] for topic, parts in struct.topics for p in parts}


def opened(offsets: dict[TopicPartition, int], session_id: int = 42) -> FetchSession:
    session = FetchSession()
    request = full_request(offsets)
    session.request(request, wanted_of(request))
    session.answered(answer(session_id, *offsets), wanted_of(request))
    return session


def test_the_first_request_names_every_partition_and_opens_a_session():
    offsets = {A0: 5, A1: 7, B0: 0}
    struct = sent(FetchSession(), offsets)
    assert (struct.session_id, struct.session_epoch) == (NO_SESSION, 0)
    assert named(struct) == offsets and struct.forgotten_topics_data == []


def test_within_a_session_a_request_names_only_moved_new_and_forgotten_partitions():
    session = opened({A0: 5, A1: 7})
    assert (session.id, session.epoch) == (42, 1)
    struct = sent(session, {A0: 9, B0: 3})  # A0 moved, B0 new, A1 no longer fetched
    assert (struct.session_id, struct.session_epoch) == (42, 1)
    assert named(struct) == {A0: 9, B0: 3}
    assert struct.forgotten_topics_data == [("a", [1])]
    session.answered(answer(42, A0, B0), wanted_of(full_request({A0: 9, B0: 3})))
    struct = sent(session, {A0: 9, B0: 3})
    assert named(struct) == {} and struct.forgotten_topics_data == []


def test_an_answer_gives_the_partitions_it_left_out_and_moves_the_epoch_on():
    session = opened({A0: 5, A1: 7, B0: 0})
    request = full_request({A0: 6, A1: 7, B0: 0})
    session.request(request, wanted_of(request))
    assert session.answered(answer(42, A0), wanted_of(request)) == [A1, B0]
    assert session.epoch == 2
    session.epoch = LAST_EPOCH
    session.request(request, wanted_of(request))
    session.answered(answer(42), wanted_of(request))
    assert session.epoch == 1  # wrapped


def test_a_refusal_or_an_answer_for_partitions_not_asked_for_ends_the_session():
    for response in (answer(42, error=71), answer(42, B0)):  # invalid epoch; B0 not wanted
        session = opened({A0: 5, A1: 7})
        request = full_request({A0: 5, A1: 7})
        session.request(request, wanted_of(request))
        assert session.answered(response, wanted_of(request)) is None
        assert (session.id, session.epoch, session.held) == (NO_SESSION, 0, {})
        assert named(sent(session, {A0: 5, A1: 7})) == {A0: 5, A1: 7}  # full again


def test_without_a_session_from_the_broker_every_request_stays_full():
    session = opened({A0: 5}, session_id=NO_SESSION)  # its session cache was full
    struct = sent(session, {A0: 5})
    assert (struct.session_id, struct.session_epoch) == (NO_SESSION, 0)
    assert named(struct) == {A0: 5}


def test_a_broker_without_sessions_gets_the_full_request():
    session = FetchSession()
    request = full_request({A0: 5, A1: 7})
    wire = session.request(request, wanted_of(request))
    assert wire.build(FetchRequest_v4).topics == [("a", [(0, 5, MOST), (1, 7, MOST)])]
    old = FetchResponse_v4(0, [("a", [(0, 0, 10, 10, [], b"")])])
    assert session.answered(old, wanted_of(request)) is None
    assert not session.supported
    assert session.request(request, wanted_of(request)) is request
