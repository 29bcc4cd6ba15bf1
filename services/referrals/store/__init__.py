"""All SQL of the referrals service, one module per concept, and nothing else: the use cases
(referring.py, facts.py, attribution.py) decide, lock in their order and publish."""

from services.referrals.store import landing, offers, people, programs, referrals

__all__ = ["landing", "offers", "people", "programs", "referrals"]
