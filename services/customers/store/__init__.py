"""All SQL of the customers service, one module per concept: `store.profiles`, `store.orders`
(with the order chains), `store.segments` (with the counters and RFM), `store.engagements`,
`store.retention`, `store.personal_data`. Nothing here opens a transaction, applies a rule or
chooses an event: the use-case modules do (README.md)."""

from services.customers.store import engagements, orders, personal_data, predictions, profiles, retention, segments

__all__ = ["engagements", "orders", "personal_data", "predictions", "profiles", "retention", "segments"]
