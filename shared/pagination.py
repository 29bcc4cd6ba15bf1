"""Relay-style connections (edges { node cursor }, pageInfo) with opaque keyset cursors.

A cursor encodes the sort key of the last row seen, so pages stay stable while rows are added.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

import strawberry

from shared.errors import BadUserInput

T = TypeVar("T")
DEFAULT_PAGE = 20
MAX_PAGE = 100


@strawberry.federation.type(shareable=True)
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    node: T
    cursor: str


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo


def page_size(first: int | None) -> int:
    if first is None:
        return DEFAULT_PAGE
    if first < 0 or first > MAX_PAGE:
        raise BadUserInput(f"`first` must be between 0 and {MAX_PAGE}")
    return first


def encode_cursor(*key: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(key, default=str).encode()).decode()


def decode_cursor(cursor: str | None, *parts: Callable[[Any], Any]) -> list[Any] | None:
    """Decode a cursor into its key, converting each part (e.g. datetime.fromisoformat, int)."""
    if cursor is None:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        if not isinstance(key, list) or len(key) != len(parts):
            raise ValueError("wrong shape")
        return [convert(value) for convert, value in zip(parts, key, strict=True)]
    except (ValueError, TypeError, UnicodeDecodeError) as exc:
        raise BadUserInput("invalid cursor", field="after") from exc


def connection(rows: Sequence[Any], size: int, *, node: Callable[[Any], T], key: Callable[[Any], tuple[Any, ...]],
               after: str | None) -> Connection[T]:
    """Build a page from up to size+1 rows fetched past the cursor (the extra row says 'more')."""
    page = list(rows[:size])
    edges = [Edge(node=node(row), cursor=encode_cursor(*key(row))) for row in page]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=len(rows) > size,
            has_previous_page=after is not None,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
    )
