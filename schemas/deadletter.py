"""A message that could not be processed, with why, where it came from and which stage parked it.

A letter is identified by ``(stage, source_topic, partition, offset, item)``: one source
message can be parked by several stages (the sink of a clean topic and predict-games, say),
and each keeps its own letter and reason; ``item`` is the event's place in a clean message,
which carries a batch of events (schemas.batches).
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from schemas.batches import message_header

# Header a replayed raw message carries: the id of the letter it was re-sent from.
REPLAY_HEADER = "streamapp-replay-of"
_SINK_REASON = re.compile(r"^sink (\w+):")


def printable(text: str) -> str:
    """``text`` with control characters (NUL included) and lone surrogates escaped: safe in
    a PostgreSQL text column and on one terminal line."""
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)


def printable_bytes(data: bytes) -> str:
    """The text form of raw bytes: UTF-8 where it decodes, ``\\xNN`` for the rest."""
    return printable(data.decode("utf-8", "backslashreplace"))


def _named(pairs: Any) -> list[tuple[str, bytes | None]]:
    """Header pairs with text names (a client may give a name as bytes)."""
    return [
        (name.decode("utf-8", "backslashreplace") if isinstance(name, bytes) else str(name), value)
        for name, value in pairs
    ]


def legacy_stage(source_topic: str, error_type: str, reason: str) -> str:
    """The stage that parked a letter written before letters named their stage, read from
    where it came from; migration 0003 fills existing rows by the same rules.

    Senders name their stage explicitly; this is also the default for one that does not.
    """
    if error_type == "sink_rejected":
        table = _SINK_REASON.match(reason)
        return f"sink-{table[1]}" if table else "sink"
    if source_topic.startswith("backfill:"):
        return "backfill"
    parts = source_topic.split(".")
    kind, feed = (parts[-2], parts[-1]) if len(parts) >= 2 else ("", parts[-1])
    if kind == "raw":
        return f"ingest-{feed}"
    if kind == "clean" and feed in ("games", "odds"):
        return "predict-games"
    if kind == "clean" and feed == "injuries":
        return "assess-injuries"
    if feed == "control":
        return "follow-model-versions"
    return "unknown"


class DeadLetter(BaseModel):
    model_config = ConfigDict(frozen=True)

    reason: str = Field(min_length=1)
    error_type: str
    stage: str = Field(
        min_length=1,
        description="The agent (or job) that parked the message: ingest-odds, predict-games, "
        "book-odds, sink-odds_quotes, backfill…",
    )
    source_topic: str
    partition: int
    offset: int
    item: int | None = Field(
        None,
        ge=0,
        description="The event's place in a clean message holding a batch of events (its "
        "payload is that event alone); None: the payload is the whole message.",
    )
    key: str | None = Field(None, description="The key's printable text form.")
    key_b64: str | None = Field(
        None, description="The key's exact bytes (absent in letters written before stages)."
    )
    payload_b64: str
    headers_b64: tuple[tuple[str, str], ...] = Field(
        (),
        description="The headers of a whole parked message, as a replay sends them again: "
        "name and base64 value (a watermark's instant, a batch's event times); none for one "
        "event of a batch, and not the replay header.",
    )
    received_at: datetime
    replay_of: str | None = Field(
        None, description="The letter this message was replayed from, if it was (letter_id)."
    )

    @field_validator(
        "reason", "error_type", "stage", "source_topic", "key", "replay_of", mode="before"
    )
    @classmethod
    def _printable_text(cls, value: Any) -> Any:
        """Text stays one printable line, storable anywhere (PostgreSQL text refuses NUL,
        UTF-8 refuses lone surrogates): a letter must never fail to be written."""
        return printable(value) if isinstance(value, str) else value

    @field_validator("headers_b64", mode="after")
    @classmethod
    def _printable_header_names(cls, value: tuple[tuple[str, str], ...]) -> Any:
        """Names as text is kept (jsonb refuses NUL); the values are base64."""
        return tuple((printable(name), encoded) for name, encoded in value)

    @model_validator(mode="before")
    @classmethod
    def _stage_of_older_letters(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data.get("stage"):
            stage = legacy_stage(
                str(data.get("source_topic", "")),
                str(data.get("error_type", "")),
                str(data.get("reason", "")),
            )
            return {**data, "stage": stage}
        return data

    @classmethod
    def for_message(
        cls,
        *,
        reason: str,
        error_type: str,
        topic: str,
        partition: int,
        offset: int,
        key: bytes | None,
        payload: bytes | None,
        received_at: datetime,
        stage: str | None = None,
        replay_of: str | None = None,
        item: int | None = None,
        headers: Sequence[tuple[str, bytes]] = (),
    ) -> DeadLetter:
        """``stage``: the agent or job parking the message; derived from the topic when None
        (see legacy_stage), which suits only the stages that existed before stages did."""
        return cls(
            reason=reason,
            error_type=error_type,
            stage=stage or legacy_stage(topic, error_type, reason),
            source_topic=topic,
            partition=partition,
            offset=offset,
            item=item,
            key=printable_bytes(key) if key is not None else None,
            key_b64=base64.b64encode(key).decode() if key is not None else None,
            payload_b64=base64.b64encode(payload or b"").decode(),
            headers_b64=tuple(
                (name, base64.b64encode(value or b"").decode()) for name, value in headers
            ),
            received_at=received_at,
            replay_of=replay_of,
        )

    @classmethod
    def of(
        cls,
        message,
        reason: str,
        error_type: str,
        *,
        stage: str | None = None,
        item: int | None = None,
        payload: bytes | None = None,
    ) -> DeadLetter:
        """The dead letter of a consumed Kafka message (faust's or aiokafka's), received now,
        or of its event ``item`` (``payload``) when it holds a batch; a message re-sent by
        ``streamapp deadletters replay`` names the letter it came from."""
        headers = getattr(message, "headers", None) or ()
        replay_of = message_header(headers, REPLAY_HEADER)
        pairs = headers.items() if isinstance(headers, Mapping) else headers
        return cls.for_message(
            reason=reason,
            error_type=error_type,
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            key=message.key,
            payload=message.value if item is None else payload,
            received_at=datetime.now(UTC),
            stage=stage,
            item=item,
            replay_of=printable_bytes(replay_of) if replay_of is not None else None,
            headers=[]
            if item is not None
            else [(name, value) for name, value in _named(pairs) if name != REPLAY_HEADER],
        )

    @property
    def letter_id(self) -> str:
        """``stage/topic/partition/offset`` (``/item`` for an event of a batch): unique
        among dead letters."""
        letter = f"{self.stage}/{self.source_topic}/{self.partition}/{self.offset}"
        return letter if self.item is None else f"{letter}/{self.item}"

    def cut_to(self, limit: int) -> DeadLetter:
        """This letter with its payload cut to the first ``limit`` bytes, the reason saying
        so with the original's size and SHA-256: for a payload too large to travel whole
        (base64 makes a letter a third larger than the message it parks); its headers are
        left out, as they count towards the same limit."""
        payload = self.payload
        digest = hashlib.sha256(payload).hexdigest()
        dropped = f"; its {len(self.headers_b64)} headers left out" if self.headers_b64 else ""
        return self.model_copy(
            update={
                "reason": f"{self.reason} (payload of {len(payload)} bytes cut to its first "
                f"{limit}; sha256 {digest}{dropped})",
                "payload_b64": base64.b64encode(payload[:limit]).decode(),
                "headers_b64": (),
            }
        )

    @property
    def payload(self) -> bytes:
        """The original bytes, to fix and replay."""
        return base64.b64decode(self.payload_b64)

    @property
    def key_bytes(self) -> bytes | None:
        """The original key; for older letters, which kept only text, its UTF-8 bytes."""
        if self.key_b64 is not None:
            return base64.b64decode(self.key_b64)
        return self.key.encode() if self.key is not None else None

    @property
    def headers(self) -> list[tuple[str, bytes]]:
        """The parked message's headers, as sent."""
        return [(name, base64.b64decode(value)) for name, value in self.headers_b64]

    def to_json(self) -> bytes:
        return self.model_dump_json().encode()
