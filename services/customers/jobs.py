"""Delayed work of the customers service (shared.schedule), every job kind in one place. Each
handler runs in the job's transaction."""

from __future__ import annotations

from services.customers import greeting, predicting, segmenting
from shared.schedule import JobHandler

JOBS: dict[str, JobHandler] = {
    segmenting.DAILY_JOB: segmenting.daily_pass,  # the shop's daily segment and RFM pass, in batches
    greeting.JOB_KIND: greeting.greet,  # a customer's birthday greeting
    predicting.JOB: predicting.nightly,  # the shop's prediction models, fitted nightly before the pass
}
