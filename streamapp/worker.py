"""Run a faust worker of the app in this process, or as a child process."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from pathlib import Path

from pydantic import SecretStr

from streamapp.settings import Settings


def run_worker(settings: Settings) -> None:
    """Blocks until the worker stops (Ctrl-C / SIGTERM)."""
    from streamapp.app import create_app

    settings.state_dir.mkdir(parents=True, exist_ok=True)
    collect_in_full_less_often(settings)
    app = create_app(settings)
    sys.argv = [
        "streamapp",
        "worker",
        "--loglevel",
        settings.log_level,
        "--web-port",
        str(settings.web_port),
        "--web-host",
        settings.web_host,
    ]
    app.main()


def collect_in_full_less_often(settings: Settings) -> None:
    """A worker's state lives long: only the young collections keep CPython's pace."""
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, settings.full_collection_every)


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that gives a child process these settings."""
    env = dict(os.environ)
    for name, value in settings.model_dump(mode="json").items():
        if value is None or name == "database_url":
            continue
        secret = getattr(settings, name)
        if isinstance(secret, SecretStr):  # dumped masked
            value = secret.get_secret_value()
        # lists and mappings are read back from the environment as JSON
        env[f"STREAMAPP_{name.upper()}"] = (
            json.dumps(value) if isinstance(value, list | dict) else str(value)
        )
    if settings.database_url:
        env["DATABASE_URL"] = settings.database_url
    return env


def spawn_worker(settings: Settings, log_file: Path) -> subprocess.Popen:
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "streamapp.cli", "worker"],
            env=settings_env(settings),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
