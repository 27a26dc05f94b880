"""`python -m streamapp` is the `streamapp` script."""

from __future__ import annotations

import subprocess
import sys


def test_the_module_form_runs_the_commands():
    result = subprocess.run(
        [sys.executable, "-m", "streamapp", "model", "--help"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: streamapp model")
