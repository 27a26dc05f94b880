"""A raw message that could not be processed, with why and where it came from."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field


class DeadLetter(BaseModel):
    model_config = ConfigDict(frozen=True)

    reason: str = Field(min_length=1)
    error_type: str
    source_topic: str
    partition: int
    offset: int
    key: str | None = None
    payload_b64: str
    received_at: datetime

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
    ) -> DeadLetter:
        return cls(
            reason=reason,
            error_type=error_type,
            source_topic=topic,
            partition=partition,
            offset=offset,
            key=key.decode("utf-8", "replace") if key is not None else None,
            payload_b64=base64.b64encode(payload or b"").decode(),
            received_at=received_at,
        )

    @classmethod
    def of(cls, message, reason: str, error_type: str) -> DeadLetter:
        """The dead letter of a consumed Kafka message (faust's or aiokafka's), received now."""
        return cls.for_message(
            reason=reason,
            error_type=error_type,
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            key=message.key,
            payload=message.value,
            received_at=datetime.now(UTC),
        )

    @property
    def payload(self) -> bytes:
        """The original bytes, to fix and replay."""
        return base64.b64decode(self.payload_b64)

    def to_json(self) -> bytes:
        return self.model_dump_json().encode()
