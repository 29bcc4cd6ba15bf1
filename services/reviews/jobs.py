"""Delayed work of the reviews service (shared.schedule); each handler runs in the job's transaction."""

from __future__ import annotations

from services.reviews import reviewing
from shared.schedule import JobHandler

JOBS: dict[str, JobHandler] = {
    reviewing.REQUEST_JOB: reviewing.send_request,  # a D+7 review request falls due
}
