"""How a product page orders its published reviews, as keyset-pageable sort keys.

Every order is expressed as a tuple sorted descending — (media first?, primary, created_at, id) —
so one row comparison pages through any of them; LOWEST negates the rating. store.PRIMARY_SQL
computes the same primary key in SQL.
"""

from __future__ import annotations

from typing import Any

SORTS = ("NEWEST", "HIGHEST", "LOWEST", "MOST_HELPFUL")


def media_rank(media_urls: list[str] | tuple[str, ...], media_first: bool) -> int:
    return 1 if media_first and media_urls else 0


def primary(sort: str, row: Any) -> int:
    if sort == "NEWEST":
        return 0
    if sort == "HIGHEST":
        return int(row["rating"])
    if sort == "LOWEST":
        return -int(row["rating"])
    return int(row["helpful_count"])


def key(sort: str, media_first: bool, row: Any) -> tuple[int, int, str, str]:
    return (media_rank(row["media_urls"], media_first), primary(sort, row), row["created_at"].isoformat(),
            str(row["id"]))
