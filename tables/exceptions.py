"""What the tables' pure functions raise for their callers to act on."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tables.league_ratings import Outputs


class FailedAfterOutputs(Exception):
    """A league's event raised after the same ``observe`` had made outputs and kept their
    state: the forecasts of an instant its last quote left pending, or games forecast
    before the one that raised. ``outputs`` are to be sent all the same (the state records
    them as made); the event is parked with the error it raised, the ``__cause__``."""

    def __init__(self, outputs: Outputs) -> None:
        made = len(outputs.predictions) + len(outputs.alerts) + len(outputs.settlements)
        super().__init__(f"{made} outputs were made before the event raised")
        self.outputs = outputs
