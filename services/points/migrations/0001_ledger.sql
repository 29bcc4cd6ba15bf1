-- The points ledger: every change is an append-only entry with its reason and source; the account
-- row holds the sums, updated in the same transaction, and can never go negative.

CREATE TABLE accounts (
    shop_id         text        NOT NULL,
    customer_id     text        NOT NULL,
    balance         bigint      NOT NULL DEFAULT 0 CHECK (balance >= 0),
    pending         bigint      NOT NULL DEFAULT 0 CHECK (pending >= 0),
    lifetime_earned bigint      NOT NULL DEFAULT 0 CHECK (lifetime_earned >= 0),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (shop_id, customer_id)
);

CREATE TABLE ledger_entries (
    shop_id         text        NOT NULL,
    id              bigserial   NOT NULL,
    customer_id     text        NOT NULL,
    kind            text        NOT NULL CHECK (kind IN ('earn', 'adjust', 'redeem', 'reverse', 'expire', 'release')),
    bucket          text        NOT NULL DEFAULT 'available' CHECK (bucket IN ('available', 'pending')),
    delta           bigint      NOT NULL CHECK (delta <> 0),
    reason          text        NOT NULL,
    source_event_id text,
    idempotency_key text        NOT NULL,
    actor           text        NOT NULL,
    rule_version    int,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (shop_id, id),
    UNIQUE (shop_id, idempotency_key),
    FOREIGN KEY (shop_id, customer_id) REFERENCES accounts (shop_id, customer_id)
);
CREATE INDEX ledger_entries_customer ON ledger_entries (shop_id, customer_id, id DESC);

CREATE FUNCTION ledger_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger_entries is append-only: record a correcting entry instead';
END $$;
CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_is_append_only();
