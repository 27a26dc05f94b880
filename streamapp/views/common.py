"""What the views share: JSON answers (datetimes included), errors, paging."""

from __future__ import annotations

import orjson
from pydantic import BaseModel, Field, ValidationError

DEFAULT_LIMIT = 50
MAX_LIMIT = 1000


def json_bytes(web, data, status: int = 200):
    """JSON that may hold datetimes and dates (orjson writes them as ISO 8601)."""
    return web.bytes(
        orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS),
        content_type="application/json",
        status=status,
    )


def error(web, message: str, status: int):
    return json_bytes(web, {"error": message, "status": status}, status=status)


class Paging(BaseModel):
    """The paging parameters of a listing (also its OpenAPI description)."""

    limit: int = Field(
        DEFAULT_LIMIT,
        ge=1,
        le=MAX_LIMIT,
        description=f"Rows per page (1-{MAX_LIMIT}, default {DEFAULT_LIMIT}).",
    )
    offset: int = Field(0, ge=0, description="Rows to skip (default 0).")


def paging(request) -> tuple[int, int]:
    try:
        page = Paging.model_validate(dict(request.query))
    except ValidationError as problem:
        raise ValueError(
            "; ".join(f"{e['loc'][0]}: {e['msg']}" for e in problem.errors())
        ) from problem
    return page.limit, page.offset
