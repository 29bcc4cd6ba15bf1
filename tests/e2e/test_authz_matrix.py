"""Every query and mutation of the composed supergraph × every kind of caller, against the rules in
authz_support.py. Calls run in a shop of their own, with placeholder arguments built from the
schema: an allowed caller may still get BAD_USER_INPUT or NOT_FOUND, but never UNAUTHENTICATED or
FORBIDDEN, and a refused caller gets exactly that."""

from __future__ import annotations

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    build_schema,
    get_named_type,
)

from tests.conftest import ROOT
from tests.e2e.authz_support import RULES
from tests.stack import codes, customer_token

SCHEMA = build_schema((ROOT / "gateway" / "supergraph.graphql").read_text(), assume_valid=True,
                      assume_valid_sdl=True)
SHOP = "authz-matrix"
OPERATIONS = sorted(
    [("query", name) for name in SCHEMA.query_type.fields if not name.startswith("_")]
    + [("mutation", name) for name in (SCHEMA.mutation_type.fields if SCHEMA.mutation_type else {})]
)
CALLERS = {
    "anonymous": {"x-shop": SHOP},
    "customer_a": customer_token("authz-a", shop=SHOP),
    "customer_b": customer_token("authz-b", shop=SHOP),
    "ingest": {"x-api-key": "authz-ingest-key"},
    "admin": customer_token("authz-ops", shop=SHOP, roles=["admin"]),
}
ALLOWED = {
    "public": set(CALLERS),
    "customer": {"customer_a", "customer_b"},
    "ingest": {"ingest", "admin"},
    "admin": {"admin"},
    "checkout": {"customer_a", "customer_b", "ingest", "admin"},
}
SCALARS = {"ID": "authz-x", "String": "authz-x", "Int": 1, "Float": 1.0, "Boolean": True,
           "DateTime": "2026-01-01T00:00:00+00:00", "Date": "2000-01-01", "JSON": {}}


def placeholder(type_):
    if isinstance(type_, GraphQLNonNull):
        return placeholder(type_.of_type)
    if isinstance(type_, GraphQLList):
        return [placeholder(type_.of_type)]
    if isinstance(type_, GraphQLEnumType):
        return next(iter(type_.values))
    if isinstance(type_, GraphQLInputObjectType):
        return {name: placeholder(f.type) for name, f in type_.fields.items() if isinstance(f.type, GraphQLNonNull)}
    assert isinstance(type_, GraphQLScalarType)
    return SCALARS.get(type_.name, "authz-x")


def operation(kind: str, name: str) -> tuple[str, dict]:
    root = SCHEMA.query_type if kind == "query" else SCHEMA.mutation_type
    field = root.fields[name]
    required = {a: arg for a, arg in field.args.items() if isinstance(arg.type, GraphQLNonNull)}
    declared = ", ".join(f"${a}: {arg.type}" for a, arg in required.items())
    passed = ", ".join(f"{a}: ${a}" for a in required)
    selection = " { __typename }" if isinstance(get_named_type(field.type), GraphQLObjectType) else ""
    header = f"{kind}({declared})" if declared else kind
    call = f"{name}({passed})" if passed else name
    text = f"{header} {{ {call}{selection} }}"
    return text, {a: placeholder(arg.type) for a, arg in required.items()}


def test_every_operation_has_a_declared_rule():
    names = {name for _, name in OPERATIONS}
    assert sorted(names - set(RULES)) == [], "declare who may call these in tests/e2e/authz_support.py"
    assert sorted(set(RULES) - names) == [], "these rules name operations the supergraph no longer has"


@pytest.mark.parametrize("kind, name", OPERATIONS, ids=[n for _, n in OPERATIONS])
async def test_authorization_matrix(gql, kind, name):
    rule = RULES.get(name)
    if rule is None:
        pytest.fail(f"no rule for {name}")
    text, variables = operation(kind, name)
    for caller, headers in CALLERS.items():
        got = set(codes(await gql(text, variables, headers)))
        if caller in ALLOWED[rule]:
            assert not got & {"UNAUTHENTICATED", "FORBIDDEN"}, (name, caller, got)
        else:
            expected = "UNAUTHENTICATED" if caller == "anonymous" else "FORBIDDEN"
            assert got == {expected}, (name, caller, got)
