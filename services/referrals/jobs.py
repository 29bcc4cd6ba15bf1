"""Delayed work of the referrals service (shared.schedule); each handler runs in the job's transaction."""

from __future__ import annotations

from services.referrals import attribution, offers
from shared.schedule import JobHandler

JOBS: dict[str, JobHandler] = {
    attribution.CONVERT_JOB: attribution.convert_when_due,  # the friend's return window has passed
    offers.CARRY_OVER_JOB: offers.carry_over,  # friend offer codes minted here before go to points
}
