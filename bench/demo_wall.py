"""What a newcomer waits for: ``DEMO_EXIT=1 make demo`` on a warm install, timed as a
subprocess (its output goes to a log file; a bar shows the time passing)."""

from __future__ import annotations

import logging
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from streamapp.settings import PROJECT_ROOT

log = logging.getLogger(__name__)


@dataclass
class DemoWall:
    seconds: float
    returncode: int
    log_file: Path

    @property
    def succeeded(self) -> bool:
        return self.returncode == 0


def time_demo(log_file: Path) -> DemoWall:
    log_file.parent.mkdir(parents=True, exist_ok=True)
    log.info("DEMO_EXIT=1 make demo (minutes); its output: %s", log_file)
    started = time.monotonic()
    with open(log_file, "wb") as out:
        demo = subprocess.Popen(
            [os.environ.get("MAKE", "make"), "demo"],
            cwd=PROJECT_ROOT,
            env={**os.environ, "DEMO_EXIT": "1"},
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        with tqdm(desc="make demo", unit="s", bar_format="{desc}: {elapsed}") as bar:
            while demo.poll() is None:
                time.sleep(1)
                bar.update(1)
    result = DemoWall(time.monotonic() - started, demo.returncode, log_file)
    if not result.succeeded:
        log.warning("make demo failed (exit %d); see %s", demo.returncode, log_file)
    return result
