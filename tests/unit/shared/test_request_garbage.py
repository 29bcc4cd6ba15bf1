"""A subgraph request is freed by reference counting when it ends (shared/graphql.py: SubgraphSchema,
ReleasedExecution, request_loader): nothing of it waits for the cycle collector. graphql-core's
executor, strawberry's federation resolver and our loaders each made a request one reference cycle
(~130 objects a request in points, the context and the request among them), and only the collector
freed it. Run here with the collector off: after 20 requests, the collector finds fewer objects to
free than there were requests (none, as it stands), so no request is left in a cycle."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
import strawberry
from strawberry.types import Info

from shared.auth import Principal
from shared.graphql import Context, SubgraphSchema, request_loader


async def _names(_pool: Any, _shop: str, ids: list[str]) -> list[str]:
    return [f"item {i}" for i in ids]


@strawberry.federation.type(keys=["id"])
class Item:
    id: strawberry.ID

    @classmethod
    def resolve_reference(cls, info: Info, id: strawberry.ID) -> Item:  # noqa: A002  # the key's name
        assert info.context is not None
        return cls(id=id)

    @strawberry.field
    async def name(self, info: Info) -> str:
        return await request_loader(info.context, "names", _names).load(self.id)


@strawberry.type
class Query:
    @strawberry.field
    async def items(self, ids: list[strawberry.ID]) -> list[Item]:
        return [Item(id=i) for i in ids]


SCHEMA = SubgraphSchema(query=Query, types=[Item])
ENTITIES = """query Panel($representations: [_Any!]!) {
  _entities(representations: $representations) { ... on Item { id name } } }"""
ROOT = "query Panel($ids: [ID!]!) { items(ids: $ids) { id name } }"
REQUESTS = 20


@pytest.fixture
def no_collector() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


async def _answer(query: str, variables: dict[str, Any]) -> Any:
    context = Context(request=None, response=None, runtime=SimpleNamespace(pool="pool"),
                      _principal=Principal(kind="admin", shop="s-1"))
    return await SCHEMA.execute(query, variable_values=variables, context_value=context)


@pytest.mark.parametrize(("query", "variables", "data"), [
    (ENTITIES, {"representations": [{"__typename": "Item", "id": "a"}, {"__typename": "Item", "id": "b"}]},
     {"_entities": [{"id": "a", "name": "item a"}, {"id": "b", "name": "item b"}]}),
    (ROOT, {"ids": ["a", "b"]}, {"items": [{"id": "a", "name": "item a"}, {"id": "b", "name": "item b"}]}),
])
async def test_a_request_leaves_nothing_to_the_collector(no_collector, query, variables, data):
    await _answer(query, variables)  # the first request of a document parses and validates it, once
    gc.collect()
    for _ in range(REQUESTS):
        result = await _answer(query, variables)
        assert result.errors is None and result.data == data
    assert gc.collect() < REQUESTS, "each request is held by a reference cycle"


async def test_the_entities_resolver_leaves_the_request_variables_as_they_came(no_collector):
    representations = [{"__typename": "Item", "id": "a"}]
    result = await _answer(ENTITIES, {"representations": representations})
    assert result.errors is None
    assert representations == [{"__typename": "Item", "id": "a"}]
