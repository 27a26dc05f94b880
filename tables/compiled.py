"""Compiled copies of the modules every event goes through, used only while they match
their sources.

The fold of a league's events, the odds book and its anomaly checks are plain Python run
for every event; Cython compiles them unchanged (no types added) into extension modules,
about twice as fast for the odds book. They are built outside the source tree
(``build/compiled/tables``, ``make compile``) with a manifest of each source's digest; the
``tables`` package looks there first only while every digest matches, so an edited source
is never shadowed by a stale build (it runs as plain Python, with a warning, until rebuilt).
Without a C compiler the build is skipped and everything runs as plain Python.

    make compile    # builds them: tables.compiled.main()
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)

SOURCES = Path(__file__).resolve().parent
BUILD = SOURCES.parent / "build" / "compiled" / "tables"
MANIFEST = BUILD / "manifest.json"
# Every event's path (ingest's ordering check, the merge, the fold, the odds book);
# tables.simulation is numpy already (its Poisson draws are tables.poisson_draws, their
# margins and totals counted by tables.score_counts).
HOT_MODULES = (
    "anomalies",
    "elo",
    "event_merge",
    "feed_order",
    "forecast",
    "league_ratings",
    "margins",
    "odds_book",
    "poisson_draws",
    "score_counts",
    "settlement",
    "strengths",
)


def built_for(sources: Path | None = None) -> dict[str, object]:
    """What a build is for: the interpreter and each hot module's source digest (of the
    package's sources unless ``sources`` is given)."""
    folder = sources or SOURCES
    digests = {
        name: hashlib.sha256((folder / f"{name}.py").read_bytes()).hexdigest()
        for name in HOT_MODULES
    }
    return {"python": sys.implementation.cache_tag, "modules": digests}


def usable_build() -> Path | None:
    """The folder of compiled modules if it was built from the current sources, else None
    (a stale build is named in a warning)."""
    if not MANIFEST.is_file():
        return None
    if json.loads(MANIFEST.read_text()) != built_for():
        log.warning(
            "the compiled copies in %s were built from other sources than tables/ holds "
            "now: running plain Python; `make compile` rebuilds them",
            BUILD,
        )
        return None
    return BUILD


def build() -> bool:
    """Compile the hot modules into BUILD (replacing what is there); False, and plain
    Python stays, when Cython or a C compiler is missing."""
    shutil.rmtree(BUILD, ignore_errors=True)
    with tempfile.TemporaryDirectory() as work:
        package = Path(work) / "tables"
        package.mkdir()
        (package / "__init__.py").touch()  # compiled as tables.<module>
        sources = [shutil.copy(SOURCES / f"{name}.py", package) for name in HOT_MODULES]
        expected = built_for(package)  # what was copied, even if a source changes meanwhile
        # Annotations stay Python objects (dataclasses read them); language level 3.
        command = [sys.executable, "-m", "Cython.Build.Cythonize", "-i", "-3", "-j", "2",
                   "-X", "annotation_typing=False", *map(str, sources)]  # fmt: skip
        # No debug information: quicker to compile (73 s -> 54-64 s here), same machine code.
        flags = {"CFLAGS": f"{os.environ.get('CFLAGS', '')} -g0".strip()}
        done = subprocess.run(
            command, cwd=work, capture_output=True, text=True, check=False,
            env={**os.environ, **flags},
        )  # fmt: skip
        if done.returncode != 0:
            log.warning("not compiled, running plain Python: %s", done.stderr.strip()[-2000:])
            return False
        BUILD.mkdir(parents=True)
        for extension in package.glob("*.so"):
            shutil.move(extension, BUILD / extension.name)
    MANIFEST.write_text(json.dumps(expected, indent=1))
    return True


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if build():
        log.info("compiled %d modules into %s", len(HOT_MODULES), BUILD)
