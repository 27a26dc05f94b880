"""Model versions: the published parameter sets, the active one, and the way back.

Workers rebuild the registry from the control topic (every message from the start), so
all of them agree on it, and a version swap or rollback takes effect without a restart.
Control messages:

    {"action": "publish", "params": {...a ModelParams document...}, "activate": true}
    {"action": "activate", "version": "v2"}
    {"action": "rollback"}            # back to the version active before the current one
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tables.model_params import DEFAULT_PARAMS, ModelParams


class ControlError(ValueError):
    """A control message that cannot be applied (unknown version, nothing to roll back)."""


@dataclass
class ModelRegistry:
    versions: dict[str, ModelParams] = field(
        default_factory=lambda: {DEFAULT_PARAMS.version: DEFAULT_PARAMS}
    )
    history: list[str] = field(default_factory=lambda: [DEFAULT_PARAMS.version])

    @property
    def active(self) -> ModelParams:
        return self.versions[self.history[-1]]

    def apply(self, message: dict[str, Any]) -> str:
        """Apply one control message; return what it did, for the log."""
        action = message.get("action")
        if action == "publish":
            params = ModelParams.from_dict(message.get("params") or {})
            self.versions[params.version] = params
            if message.get("activate", True):
                self._activate(params.version)
                return f"published and activated {params.version}"
            return f"published {params.version}"
        if action == "activate":
            version = message.get("version", "")
            if version not in self.versions:
                raise ControlError(f"unknown model version {version!r}; publish it first")
            self._activate(version)
            return f"activated {version}"
        if action == "rollback":
            if len(self.history) < 2:
                raise ControlError("nothing to roll back to: only one version was ever active")
            self.history.pop()
            return f"rolled back to {self.history[-1]}"
        raise ControlError(f"unknown control action {action!r}: use publish, activate or rollback")

    def _activate(self, version: str) -> None:
        if self.history[-1] != version:
            self.history.append(version)

    def describe(self) -> dict[str, Any]:
        return {
            "active": self.history[-1],
            "history": self.history,
            "versions": sorted(self.versions),
        }
