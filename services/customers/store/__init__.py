"""All SQL of the customers service, one module per concept: `store.profiles`, `store.orders`
(with the order chains), `store.segments` (with the counters and RFM), `store.engagements`,
`store.retention`, `store.personal_data`, `store.connections` (commerce platforms and their
deliveries), `store.platform_offers`, `store.data_requests`. Nothing here opens a transaction,
applies a rule or chooses an event: the use-case modules do (README.md)."""

from services.customers.store import (
    connections,
    data_requests,
    engagements,
    orders,
    personal_data,
    platform_offers,
    predictions,
    profiles,
    retention,
    segments,
)

__all__ = ["connections", "data_requests", "engagements", "orders", "personal_data", "platform_offers",
           "predictions", "profiles", "retention", "segments"]
