"""Plumbing every Flywheel service shares: settings, database, events, bus, outbox/inbox, schedule,
auth, telemetry and the GraphQL app factory. No business rules live here."""
