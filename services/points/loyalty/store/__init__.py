"""All SQL of the loyalty side, a module per concept: `store.ledger`, `store.orders`, … Store
functions only run SQL: they open no transaction (the use case passes its connection), apply no
rule and publish nothing.

Lock order, everywhere: the customer's account row first, then an order's, a reward's or the
wallet's row. One customer's changes therefore serialise on the account, and two customers never
wait on each other in opposite order.
"""

from services.points.loyalty.store import ledger, orders, programs, rewards, simulation, tiers, wallet

__all__ = ["ledger", "orders", "programs", "rewards", "simulation", "tiers", "wallet"]
