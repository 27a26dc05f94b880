"""Settings come from the environment, and the README documents every one of them."""

from __future__ import annotations

from pathlib import Path

from streamapp.settings import PROJECT_ROOT, Settings

SPECIAL = {"database_url": "DATABASE_URL", "demo_exit": "DEMO_EXIT"}


def env_name(field: str) -> str:
    return SPECIAL.get(field, f"STREAMAPP_{field.upper()}")


def test_environment_overrides(monkeypatch):
    monkeypatch.setenv("STREAMAPP_TOPIC_PARTITIONS", "8")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@db/x")
    monkeypatch.setenv("DEMO_EXIT", "1")
    settings = Settings()
    assert settings.topic_partitions == 8
    assert settings.effective_database_url == "postgresql://u@db/x"
    assert settings.demo_exit is True
    assert settings.topic("raw.odds") == "sports.raw.odds"


def test_bootstrap_servers_drop_the_scheme():
    assert Settings(broker="kafka://a:1;kafka://b:2").bootstrap_servers == "a:1,b:2"


def test_readme_lists_every_setting():
    readme = (PROJECT_ROOT / "README.md").read_text()
    missing = [env_name(f) for f in Settings.model_fields if f"`{env_name(f)}`" not in readme]
    assert missing == []


def test_readme_starts_with_the_two_commands():
    readme = (Path(PROJECT_ROOT) / "README.md").read_text()
    first_screen = readme.split("\n## ", 1)[0]
    assert "make demo" in first_screen and "make test" in first_screen


def test_a_worker_process_gets_the_same_settings_through_its_environment(monkeypatch):
    """Lists go as JSON and secrets unmasked (a list once went as its Python repr and no
    worker could start)."""
    from pydantic import SecretStr

    from streamapp.worker import settings_env

    settings = Settings(espn_leagues=["hockey/nhl"], odds_api_key=SecretStr("k-1"))
    for name, value in settings_env(settings).items():
        monkeypatch.setenv(name, value)
    child = Settings()
    assert child.espn_leagues == ["hockey/nhl"]
    assert child.odds_api_key.get_secret_value() == "k-1"
    assert child.model_dump(exclude={"odds_api_key"}) == settings.model_dump(
        exclude={"odds_api_key"}
    )
