-- Commerce-platform connections as data (issue 18): which store or shop sends a shop's orders and
-- customers, its sealed secrets (Fernet, services/customers/platforms/secrets.py), its state and
-- what it took and refused. A store belongs to one shop: (platform, domain) is unique over all shops,
-- because a webhook names the store, not our shop.
CREATE TABLE commerce_connections (
    shop_id          text        NOT NULL,
    id               text        NOT NULL,
    platform         text        NOT NULL CHECK (platform IN ('SHOPIFY', 'SHOPWARE')),
    domain           text        NOT NULL,  -- Shopify: the myshopify.com domain; Shopware: the shop id
    shop_url         text,                  -- Shopware: where its Admin API answers
    api_version      text,                  -- Shopify Admin API version
    app_name         text,                  -- Shopware: the app's technical name (registration proof)
    status           text        NOT NULL DEFAULT 'ACTIVE'
                                 CHECK (status IN ('ACTIVE', 'DISCONNECTED', 'UNINSTALLED', 'FAILING')),
    secrets          bytea       NOT NULL,  -- one Fernet token of a JSON object; never returned
    origin           text        NOT NULL DEFAULT 'admin' CHECK (origin IN ('admin', 'bootstrap')),
    registered_at    timestamptz,           -- Shopware: the registration handshake was confirmed
    registration_ts  bigint,                -- Shopware: newest registration timestamp accepted (replays)
    events_taken     bigint      NOT NULL DEFAULT 0,
    events_refused   bigint      NOT NULL DEFAULT 0,
    events_failed    bigint      NOT NULL DEFAULT 0,
    offers_pushed    bigint      NOT NULL DEFAULT 0,
    push_failures    bigint      NOT NULL DEFAULT 0,
    last_event_at    timestamptz,
    last_error       text,
    last_error_at    timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    disconnected_at  timestamptz,
    uninstalled_at   timestamptz,
    PRIMARY KEY (shop_id, id),
    UNIQUE (platform, domain)
);

-- Deliveries already applied, by the platform's delivery and event ids (X-Shopify-Webhook-Id,
-- X-Shopify-Event-Id + topic, Shopware's source.eventId): a redelivery is answered without a second
-- effect. Written in the transaction of the effect, so a delivery that failed can be retried.
CREATE TABLE platform_deliveries (
    shop_id       text        NOT NULL,
    connection_id text        NOT NULL,
    key           text        NOT NULL,
    topic         text        NOT NULL,
    received_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (shop_id, connection_id, key),
    FOREIGN KEY (shop_id, connection_id) REFERENCES commerce_connections (shop_id, id)
);

-- Privacy data requests from a platform (Shopify customers/data_request): the admin reads the
-- export of the person through commerceDataRequests { export { … } }.
CREATE TABLE data_requests (
    shop_id          text        NOT NULL,
    id               text        NOT NULL,
    connection_id    text        NOT NULL,
    request_id       text        NOT NULL,  -- the platform's id of the request
    customer_id      text        NOT NULL,
    orders_requested text[]      NOT NULL DEFAULT '{}',
    known            boolean     NOT NULL,  -- whether Flywheel holds anything about the person
    received_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (shop_id, id),
    UNIQUE (shop_id, connection_id, request_id),
    FOREIGN KEY (shop_id, connection_id) REFERENCES commerce_connections (shop_id, id)
);

-- Offers as pushed to a connected platform: what Flywheel wants there (the offer's facts and whether
-- the code should work) and what is there (the platform's id for it, whether it works). The push job
-- makes the second match the first, so it may run any number of times.
CREATE TABLE platform_offers (
    shop_id        text        NOT NULL,
    connection_id  text        NOT NULL,
    offer_id       text        NOT NULL,
    facts          jsonb       NOT NULL,  -- the OfferFacts of the newest event about the offer
    wanted_active  boolean     NOT NULL,
    version        int         NOT NULL DEFAULT 1,  -- bumped with every change of what is wanted
    remote_id      text,                  -- the platform's id of the code (Shopify discount node, Shopware promotion)
    remote_active  boolean,
    skipped        text,                  -- why it is not pushed at all (a kind the platform cannot express)
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (shop_id, connection_id, offer_id),
    FOREIGN KEY (shop_id, connection_id) REFERENCES commerce_connections (shop_id, id)
);
