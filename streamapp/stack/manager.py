"""`streamapp stack up|down|status`: both servers together, idempotent."""

from __future__ import annotations

from streamapp.settings import Settings
from streamapp.stack.kafka import EmbeddedKafka
from streamapp.stack.postgres import EmbeddedPostgres


class Stack:
    def __init__(self, settings: Settings) -> None:
        self.kafka = EmbeddedKafka(settings)
        self.postgres = EmbeddedPostgres(settings)

    def up(self) -> None:
        self.kafka.up()
        self.postgres.up()

    def down(self) -> None:
        self.postgres.down()
        self.kafka.down()

    def status(self) -> dict[str, str]:
        return {"kafka": self.kafka.status(), "postgres": self.postgres.status()}
