"""The benchmark's figures beside the issue's targets: a table for the terminal and a JSON
file per run (plus ``latest.json``) for comparing runs."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Target:
    bound: float
    at_least: bool  # the figure must be >= bound (else <= bound)

    def met(self, value: float) -> bool:
        return value >= self.bound if self.at_least else value <= self.bound

    def __str__(self) -> str:
        return f"{'>=' if self.at_least else '<='} {self.bound:,g}"


@dataclass(frozen=True)
class Figure:
    unit: str
    target: Target | None = None


# The figures, in the order they are printed; a figure without a target is context.
FIGURES: dict[str, Figure] = {
    "raw_consume_eps": Figure("events/s"),
    "pipeline_eps": Figure("events/s", Target(20_000, at_least=True)),
    "pipeline_ratio": Figure("", Target(0.05, at_least=True)),
    # the model's own work alone on one core (bench.model_floor): no runtime passes either
    "model_ceiling_eps": Figure("events/s"),
    "model_ceiling_ratio": Figure(""),
    "quote_to_alert_p50_ms": Figure("ms"),
    "quote_to_alert_p99_ms": Figure("ms", Target(50, at_least=False)),
    "recovery_records_per_s": Figure("records/s", Target(50_000, at_least=True)),
    "mc_10k_sims_ms": Figure("ms", Target(2, at_least=False)),
    "worker_peak_rss_mb": Figure("MB", Target(500, at_least=False)),
    "demo_wall_s": Figure("s", Target(90, at_least=False)),
}


def verdict(name: str, value: float | None) -> str:
    target = FIGURES[name].target
    if target is None:
        return ""
    if value is None:
        return "not measured"
    return "met" if target.met(value) else "missed"


def targets() -> dict[str, str]:
    return {name: str(f.target) for name, f in FIGURES.items() if f.target is not None}


def verdicts(figures: dict[str, float | None]) -> dict[str, str]:
    return {name: verdict(name, figures.get(name)) for name in targets()}


def _shown(value: float | None) -> str:
    if value is None:
        return "null"
    return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.0f}"


def render(figures: dict[str, float | None]) -> str:
    lines = [f"{'figure':<24} {'value':>12} {'unit':<10} {'target':>10}  verdict"]
    for name, figure in FIGURES.items():
        value = figures.get(name)
        target = str(figure.target) if figure.target else ""
        lines.append(
            f"{name:<24} {_shown(value):>12} {figure.unit:<10} {target:>10}  {verdict(name, value)}"
        )
    return "\n".join(lines)


def write(result: dict, out_dir: Path, stamp: str) -> Path:
    """``bench-<stamp>.json`` in ``out_dir``, copied to ``latest.json``; returns its path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"bench-{stamp}.json"
    path.write_text(json.dumps(result, indent=2, default=str) + "\n")
    shutil.copyfile(path, out_dir / "latest.json")
    return path
