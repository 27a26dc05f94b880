import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import tables
from streamapp.settings import get_settings
from tables import compiled, odds_book

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def sources(tmp_path, monkeypatch):
    """A copy of the hot modules' sources, with its own build folder."""
    copy = tmp_path / "tables"
    copy.mkdir()
    for name in compiled.HOT_MODULES:
        shutil.copy(compiled.SOURCES / f"{name}.py", copy)
    build = tmp_path / "build"
    monkeypatch.setattr(compiled, "SOURCES", copy)
    monkeypatch.setattr(compiled, "BUILD", build)
    monkeypatch.setattr(compiled, "MANIFEST", build / "manifest.json")
    return copy


def test_a_build_is_used_only_while_it_matches_every_source(sources, caplog):
    assert compiled.usable_build() is None  # nothing built
    compiled.BUILD.mkdir()
    compiled.MANIFEST.write_text(json.dumps(compiled.built_for()))
    assert compiled.usable_build() == compiled.BUILD
    with (sources / "odds_book.py").open("a") as source:
        source.write("\n# edited\n")
    with caplog.at_level(logging.WARNING):
        assert compiled.usable_build() is None
    assert "make compile" in caplog.text


def test_a_build_for_another_interpreter_is_not_used(sources):
    compiled.BUILD.mkdir()
    compiled.MANIFEST.write_text(json.dumps({**compiled.built_for(), "python": "cpython-39"}))
    assert compiled.usable_build() is None


def digest(cwd: Path) -> str:
    """The hot-path digest (bench.micro_hotpath) of the package tree in ``cwd``."""
    data = get_settings().data_dir.resolve()  # the copy's relative default finds none
    done = subprocess.run(
        [sys.executable, "-m", "bench.micro_hotpath", "--files", "football-data/E0_2021.csv",
         "--repeat", "1"],
        cwd=cwd, capture_output=True, text=True, check=True,
        env={**os.environ, "STREAMAPP_DATA_DIR": str(data)},
    )  # fmt: skip
    return next(line for line in done.stdout.splitlines() if line.startswith("digest"))


@pytest.mark.skipif(
    compiled.usable_build() is None, reason="not compiled here (no C compiler, or stale)"
)
def test_the_compiled_modules_give_exactly_what_their_sources_give(tmp_path):
    """A real season's predictions, alerts, settlements, books and anomalies, byte for byte,
    from the compiled modules and from a copy of the tree that has no build (plain Python)."""
    assert odds_book.__file__.startswith(str(compiled.BUILD))
    assert tables.__path__[0] == str(compiled.BUILD)
    for package in ("agents", "bench", "schemas", "streamapp", "tables"):
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("*.so"))
    pure = subprocess.run(
        [sys.executable, "-c", "import tables.odds_book as m; print(m.__file__)"],
        cwd=tmp_path, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert pure.stdout.strip() == str(tmp_path / "tables" / "odds_book.py")
    assert digest(ROOT) == digest(tmp_path)
