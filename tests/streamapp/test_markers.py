"""`make test-unit` (`-m "not integration"`) must never select a test that needs the stack."""

from __future__ import annotations

import subprocess
import sys

from streamapp.settings import PROJECT_ROOT

INTEGRATION = PROJECT_ROOT / "tests" / "integration"


def collected(marker_expression: str) -> list[str]:
    """The node ids pytest selects under ``tests/`` for ``-m marker_expression``."""
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"]
        + ["-m", marker_expression, "tests"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return [line for line in result.stdout.splitlines() if "::" in line]


def test_not_integration_selects_no_test_of_the_integration_folder():
    unit = collected("not integration")
    assert unit
    assert not [node for node in unit if node.startswith("tests/integration/")]


def test_every_integration_module_is_selected_by_the_integration_marker():
    modules = {node.split("::")[0] for node in collected("integration")}
    expected = {f"tests/integration/{path.name}" for path in INTEGRATION.glob("test_*.py")}
    assert modules == expected
