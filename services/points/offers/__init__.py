"""Offers: every incentive as a code a checkout can check and redeem (rules, use cases, SQL and the
GraphQL part). README.md of the service lists the modules."""
