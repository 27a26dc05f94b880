"""The one exception base of streamapp: every error a user sees names the problem and the fix."""


class StreamappError(Exception):
    """Base of every error streamapp raises on purpose."""


class StackError(StreamappError):
    """The embedded stack (Kafka, PostgreSQL) cannot be started, stopped or reached."""


class ReplayError(StreamappError):
    """A replay source file cannot be read."""
