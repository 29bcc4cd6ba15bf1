"""GraphQL of the loyalty program, by area: program.py (the program and its tiers), account.py
(the loyalty account, its history, points per order, adjustments) and rewards.py (the catalog,
redemptions and codes). services/points/schema.py mounts their resolvers on Query, Mutation and
Customer. Resolvers are thin: they parse, check who calls, call one use case (or one read) and map
the result. Reads the schema repeats per parent go through the request's loaders (shared.graphql's
`rows_loader` and `request_loader`)."""

from __future__ import annotations

from typing import Protocol

import strawberry


class Keyed(Protocol):
    """The entity a Customer field resolves on (services/points/schema.py's Customer)."""
    id: strawberry.ID
