"""What every event shares: a stable id for dedupe, an event time, a sport.

Every value a feed sends is bounded here or in its model, so whatever passes validation can
be stored, keyed and computed with: numbers are finite (``allow_inf_nan=False``) and within
a plausible range for their field, strings are free of control characters and of bounded
length, and ids are short enough that every id derived from them fits (see
``EVENT_ID_MAX_LENGTH``).

An event is validated once, where it enters (ingest); what it writes to a clean topic, and
the outputs the agents write, are read back with ``Event.from_clean_json``, which builds the
same object as ``model_validate_json`` without checking anything again.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable
from datetime import UTC, datetime
from enum import Enum, StrEnum
from functools import cache
from types import NoneType, UnionType
from typing import Annotated, Any, Self, Union, get_args, get_origin

import orjson
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
)


class Sport(StrEnum):
    SOCCER = "soccer"
    NBA = "nba"
    NFL = "nfl"
    NHL = "nhl"


# The ids of feed events are bounded so that every id derived from them fits in an output's
# event id (OUTPUT_ID_MAX_LENGTH). The longest derivation is the settlement of a prediction,
# "settle:{game_id}:{model}:{version}:{event_id}" (tables/league_ratings.py), with a model
# name of at most 12 characters and a version of at most 32 (Prediction.model_version):
# 7 + 80 + 1 + 12 + 1 + 32 + 1 + 120 = 254. The real data's longest are 45 and 76.
GAME_ID_MAX_LENGTH = 80
EVENT_ID_MAX_LENGTH = 120
OUTPUT_ID_MAX_LENGTH = 256

# C0 and C1 control characters, DEL and lone surrogates: NUL breaks PostgreSQL text, the
# others break keys, logs and terminals, and a lone surrogate cannot be encoded as UTF-8.
CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
# Free text (an injury's reason) may also hold tabs and line breaks.
CONTROL_CHARACTER_IN_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def _refuse(pattern: re.Pattern[str], value: str) -> str:
    found = pattern.search(value)
    if found:
        raise ValueError(
            f"contains the control character U+{ord(found.group()):04X} at {found.start()}"
        )
    return value


def no_control_characters(value: str) -> str:
    return _refuse(CONTROL_CHARACTER, value)


def no_control_characters_in_text(value: str) -> str:
    return _refuse(CONTROL_CHARACTER_IN_TEXT, value)


# Ids, names, keys: no control character at all. Lengths are set per field with Field().
Name = Annotated[str, AfterValidator(no_control_characters)]
Text = Annotated[str, AfterValidator(no_control_characters_in_text)]


def as_utc(value: datetime) -> datetime:
    """Naive times are taken as UTC; aware ones are converted to it.

    A time at the limits of the calendar may have no UTC equivalent
    (``9999-12-31T23:59:59-05:00``): that is a ValueError, so validation reports the field.
    """
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{value.isoformat()} is outside the calendar once in UTC") from None


def league_key(sport: Sport | str, league: str) -> str:
    return f"{Sport(sport).value}:{league}"


def is_league_key(key: bytes) -> bool:
    """Whether ``key`` is a league's Kafka key ("sport:league") as an event of it has."""
    try:
        sport, separator, league = key.decode("utf-8").partition(":")
        LEAGUE_KEY.validate_python((sport, league))
    except (UnicodeDecodeError, ValidationError):
        return False
    return bool(separator)


def no_key_separators(league: str) -> str:
    # The league is the Kafka key ("sport:league") and the prefix of every table key
    # ("sport:league|team"): a separator inside it would mix up two leagues' keys.
    if ":" in league or "|" in league:
        raise ValueError("must not contain ':' or '|'")
    return league


LeagueName = Annotated[Name, AfterValidator(no_key_separators), Field(min_length=1, max_length=32)]
LEAGUE_KEY = TypeAdapter(tuple[Sport, LeagueName])


def _utc_time(text: str) -> datetime:
    """An ISO 8601 time as validation makes it: in UTC (``as_utc``)."""
    return as_utc(datetime.fromisoformat(text))


def _converter(annotation: Any) -> Callable[[Any], Any] | None:
    """How a JSON value becomes what validation makes of it for a field of this type; None
    when it is the JSON value itself (a string, an integer, a boolean, a null)."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return _converter(args[0])
    if origin in (Union, UnionType):
        [inner] = [arg for arg in args if arg is not NoneType]  # only ``X | None`` occurs
        return _converter(inner)  # a null stays None
    if origin is dict:
        convert_key, convert_value = _converter(args[0]), _converter(args[1])
        if convert_key:
            raise TypeError(f"no trusted decoding for the keys of {annotation!r}")
        return convert_value and (lambda d: {k: convert_value(v) for k, v in d.items()})
    if origin is list:
        convert_item = _converter(args[0])
        return convert_item and (lambda items: [convert_item(item) for item in items])
    if annotation is datetime:
        return _utc_time
    if annotation is float:
        return float  # a JSON integer in a float field is a float once validated
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return {member.value: member for member in annotation}.__getitem__
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _trusted_decoder(annotation)
    if annotation in (str, int, bool):
        return None
    raise TypeError(f"no trusted decoding for {annotation!r}")


@cache
def _trusted_decoder(model: type[BaseModel]) -> Callable[[dict[str, Any]], Any]:
    """A function from the parsed JSON of a valid ``model`` to the model, built as
    pydantic's ``model_construct`` builds one (the fields in order, those in the JSON as
    the fields set, no extra and no private values) from the values validation makes."""
    if (
        model.model_config.get("extra") == "allow"
        or model.__pydantic_post_init__
        or model.__pydantic_root_model__
    ):
        raise TypeError(f"{model.__name__} holds more than its fields: no trusted decoding")
    fields = model.model_fields
    shared = [name for name, field in fields.items()
              if not field.is_required() and not isinstance(field.default, Hashable)]  # fmt: skip
    if shared:  # validation copies a mutable default; here every event would share it
        raise TypeError(f"{model.__name__} {shared}: a mutable default, not a default_factory")
    names = fields.keys()
    required = {name for name, field in fields.items() if field.is_required()}
    # Every field in order, holding its default until the JSON's value replaces it.
    defaults = {name: None if field.is_required() or field.default_factory else field.default
                for name, field in fields.items()}  # fmt: skip
    factories = [(name, field.default_factory) for name, field in fields.items()
                 if field.default_factory]  # fmt: skip
    conversions = [(name, convert) for name, field in fields.items()
                   if (convert := _converter(field.annotation))]  # fmt: skip
    set_slot = object.__setattr__  # a frozen model refuses its own __setattr__

    def decode(data: dict[str, Any]) -> Any:
        given = data.keys()
        if not required <= given:
            raise ValueError(f"not a clean {model.__name__}: {sorted(required - given)} missing")
        if not given <= names:
            data = {name: value for name, value in data.items() if name in names}
        values = {**defaults, **data}
        for name, convert in conversions:
            if values[name] is not None and name in data:  # defaults are kept as they are
                values[name] = convert(values[name])
        for name, factory in factories:
            if name not in data:
                values[name] = factory()
        event = model.__new__(model)
        set_slot(event, "__dict__", values)
        set_slot(event, "__pydantic_fields_set__", set(data))
        set_slot(event, "__pydantic_extra__", None)
        set_slot(event, "__pydantic_private__", None)
        return event

    return decode


class Event(BaseModel):
    """Base of every feed event and output."""

    model_config = ConfigDict(
        frozen=True, extra="ignore", use_enum_values=False, allow_inf_nan=False
    )

    event_id: Name = Field(min_length=1, max_length=EVENT_ID_MAX_LENGTH)
    event_time: datetime
    sport: Sport
    league: LeagueName

    @field_validator("event_time", mode="after")
    @classmethod
    def _event_time_utc(cls, value: datetime) -> datetime:
        return as_utc(value)

    @property
    def partition_key(self) -> str:
        """The Kafka key of every topic: the league ("sport:league").

        A team's form, ratings and players span many games, so all of a league's events
        share one partition: its state lives in one place, and events reach it in the order
        the feed sent them (see README, "Keys and partitions").
        """
        return league_key(self.sport, self.league)

    @property
    def order_group(self) -> str:
        """The unit whose dedupe/ordering state is stored together (a game, or a team)."""
        raise NotImplementedError

    @property
    def ordering_key(self) -> str:
        """Events with the same ordering key must arrive in event-time order."""
        raise NotImplementedError

    def to_json(self) -> bytes:
        return self.model_dump_json(exclude_none=True).encode()

    @classmethod
    def from_clean_json(cls, data: bytes | str) -> Self:
        """The event ``to_json`` wrote, as ``model_validate_json`` reads it, two to three
        times faster: nothing is checked again. Only for JSON this code wrote from a validated
        event (a clean topic, an output topic): anything else, however broken, would come
        through as an event (tests/schemas/test_clean_json.py shows what passes)."""
        return _trusted_decoder(cls)(orjson.loads(data))


class GameScoped(Event):
    """An event about one game."""

    game_id: Name = Field(min_length=1, max_length=GAME_ID_MAX_LENGTH)

    @property
    def order_group(self) -> str:
        return self.game_id
