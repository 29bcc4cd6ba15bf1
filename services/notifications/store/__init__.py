"""All SQL of the notifications service, one module per concept, and nothing else: the use cases
(automation.py, delivery.py, contacts.py, configuration.py, webhooks.py, engagement.py) decide,
queue the jobs and publish."""

from services.notifications.store import configuration, contacts, deliveries, webhooks

__all__ = ["configuration", "contacts", "deliveries", "webhooks"]
