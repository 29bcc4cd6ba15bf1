-- Plumbing tables every service database carries (applied before the service's own migrations).

CREATE TABLE outbox (
    seq          bigserial   NOT NULL,
    id           uuid        PRIMARY KEY,
    shop_id      text        NOT NULL,
    type         text        NOT NULL,
    envelope     jsonb       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz,
    attempts     int         NOT NULL DEFAULT 0,
    last_error   text
);
CREATE INDEX outbox_unpublished ON outbox (seq) WHERE published_at IS NULL;
CREATE INDEX outbox_published_at ON outbox (published_at) WHERE published_at IS NOT NULL;

CREATE TABLE inbox (
    consumer    text        NOT NULL,
    event_id    text        NOT NULL,
    event_type  text        NOT NULL,
    shop_id     text        NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);

-- Delayed work (D+7 requests, pending points, flows): survives restarts, claimed with
-- FOR UPDATE SKIP LOCKED, cancellable by a newer event through its natural key.
CREATE TABLE scheduled_jobs (
    id          bigserial   PRIMARY KEY,
    shop_id     text        NOT NULL,
    kind        text        NOT NULL,
    dedup_key   text        NOT NULL,
    due_at      timestamptz NOT NULL,
    payload     jsonb       NOT NULL DEFAULT '{}',
    status      text        NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'done', 'cancelled', 'failed')),
    attempts    int         NOT NULL DEFAULT 0,
    last_error  text,
    traceparent text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (shop_id, kind, dedup_key)
);
CREATE INDEX scheduled_jobs_due ON scheduled_jobs (due_at) WHERE status = 'pending';
