"""What the views share: JSON answers (datetimes included), errors, paging."""

from __future__ import annotations

import orjson

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


def paging(request) -> tuple[int, int]:
    try:
        limit = int(request.query.get("limit", DEFAULT_LIMIT))
        offset = int(request.query.get("offset", 0))
    except ValueError as problem:
        raise ValueError("limit and offset must be whole numbers") from problem
    if not 1 <= limit <= MAX_LIMIT or offset < 0:
        raise ValueError(f"limit must be 1..{MAX_LIMIT} and offset >= 0")
    return limit, offset
