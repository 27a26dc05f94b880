from __future__ import annotations

import pytest

from schemas.base import Sport
from tables.model_params import DEFAULT_PARAMS, ModelParams
from tables.model_registry import ControlError, ModelRegistry


def test_publish_activate_and_roll_back():
    registry = ModelRegistry()
    assert registry.active.version == "v1"
    v2 = {"version": "v2", "value_edge": 0.05, "sports": {"nba": {"rest_penalty": 30}}}
    registry.apply({"action": "publish", "params": v2})
    assert registry.active.version == "v2"
    assert registry.active.value_edge == 0.05
    assert registry.active.sport(Sport.NBA).rest_penalty == 30
    # fields left out keep the defaults
    assert registry.active.sport(Sport.NBA).k == DEFAULT_PARAMS.sport(Sport.NBA).k
    registry.apply({"action": "rollback"})
    assert registry.active.version == "v1"
    registry.apply({"action": "activate", "version": "v2"})
    assert registry.describe()["history"] == ["v1", "v2"]


def test_bad_control_messages_say_what_is_wrong():
    registry = ModelRegistry()
    with pytest.raises(ControlError, match="unknown model version"):
        registry.apply({"action": "activate", "version": "v9"})
    with pytest.raises(ControlError, match="nothing to roll back"):
        registry.apply({"action": "rollback"})
    with pytest.raises(ValueError, match="unknown parameters for nba"):
        registry.apply(
            {"action": "publish", "params": {"version": "x", "sports": {"nba": {"q": 1}}}}
        )
    # outputs carry the version, and the ids derived with it must fit the schema
    with pytest.raises(ValueError, match="at most 32 characters, got 33"):
        registry.apply({"action": "publish", "params": {"version": "v" * 33}})


def test_a_version_round_trips_through_json():
    assert ModelParams.from_dict(DEFAULT_PARAMS.to_dict()) == DEFAULT_PARAMS
