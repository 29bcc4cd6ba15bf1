"""The request's loaders (shared/graphql.py): one per name and request, one fetch for all the keys
its fields ask for, rows matched to ids by a column."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from shared.auth import Principal
from shared.graphql import Context, request_loader, rows_loader


def _context() -> Context:
    return Context(request=None, response=None, runtime=SimpleNamespace(pool="pool"),
                   _principal=Principal(kind="admin", shop="s-1"))


async def test_one_fetch_per_request_for_all_the_keys_asked():
    c, calls = _context(), []

    async def fetch(pool: Any, shop: str, keys: list[str]) -> list[str]:
        calls.append((pool, shop, keys))
        return [k.upper() for k in keys]

    loader = request_loader(c, "upper", fetch)
    assert request_loader(c, "upper", fetch) is loader  # the same loader for the rest of the request
    assert await asyncio.gather(loader.load("a"), request_loader(c, "upper", fetch).load("b")) == ["A", "B"]
    assert calls == [("pool", "s-1", ["a", "b"])]
    assert request_loader(_context(), "upper", fetch) is not loader  # another request, another loader


async def test_rows_are_matched_to_ids_by_their_column_and_missing_ones_are_none():
    c = _context()

    async def fetch(pool: Any, shop: str, ids: list[str]) -> list[dict[str, str]]:
        return [{"id": i, "shop": shop} for i in reversed(ids) if i != "gone"]

    loader = rows_loader(c, "rows", "id", fetch)
    assert await loader.load_many(["x", "gone", "y"]) == [{"id": "x", "shop": "s-1"}, None, {"id": "y", "shop": "s-1"}]


def test_an_unreachable_database_is_unavailable_with_a_retry_hint_other_errors_stay_internal():
    """Issue 19: during a PostgreSQL restart callers get UNAVAILABLE (retryable, retryAfter seconds),
    not INTERNAL_SERVER_ERROR."""
    import asyncpg
    from graphql import GraphQLError

    from shared.graphql import RETRY_AFTER_SECONDS, ShapeErrors, database_unavailable

    def error(original: Exception) -> GraphQLError:
        return GraphQLError("boom", path=["me", "loyalty"], original_error=original)

    try:
        try:
            raise ConnectionRefusedError(111, "Connect call failed")
        except ConnectionRefusedError as refused:
            raise RuntimeError("acquiring a connection") from refused
    except RuntimeError as wrapped:
        chained = wrapped
    down = [asyncpg.CannotConnectNowError("the database system is starting up"),
            asyncpg.AdminShutdownError("terminating connection due to administrator command"),
            asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
            asyncpg.InterfaceError("cannot call Connection.fetch(): connection is closed"),
            ConnectionResetError(), chained]
    for exc in down:
        assert database_unavailable(exc), exc
    shaped = ShapeErrors()._process_errors([error(e) for e in down])
    hints = {(e.extensions["code"], e.extensions["retryAfter"]) for e in shaped}
    assert hints == {("UNAVAILABLE", RETRY_AFTER_SECONDS)}
    assert all(e.path == ["me", "loyalty"] and "unavailable" in e.message for e in shaped)
    for exc in (asyncpg.QueryCanceledError("canceling statement due to statement timeout"),
                asyncpg.UniqueViolationError("duplicate key"), ValueError("bug"), TimeoutError()):
        assert not database_unavailable(exc), exc
    [masked] = ShapeErrors()._process_errors([error(ValueError("bug"))])
    assert masked.extensions == {"code": "INTERNAL_SERVER_ERROR"} and masked.message == "Internal server error"
