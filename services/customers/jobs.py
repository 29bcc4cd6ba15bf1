"""Delayed work of the customers service (shared.schedule), every job kind in one place. Each
handler runs in the job's transaction."""

from __future__ import annotations

from services.customers import greeting, intake_shopware, predicting, segmenting
from services.customers.platforms import connecting, privacy, pushing
from shared.schedule import JobHandler

JOBS: dict[str, JobHandler] = {
    segmenting.DAILY_JOB: segmenting.daily_pass,  # the shop's daily segment and RFM pass, in batches
    greeting.JOB_KIND: greeting.greet,  # a customer's birthday greeting
    predicting.JOB: predicting.nightly,  # the shop's prediction models, fitted nightly before the pass
    pushing.PUSH_JOB: pushing.push_offer,  # make an offer's code at a platform what it should be
    connecting.SUBSCRIBE_JOB: pushing.subscribe,  # a Shopify store's webhook subscriptions
    privacy.REDACT_SHOP_JOB: privacy.redact_batch,  # a shop redaction, one batch of customers
    intake_shopware.CUSTOMER_JOB: intake_shopware.read_customer,  # a written Shopware customer, read back
}
