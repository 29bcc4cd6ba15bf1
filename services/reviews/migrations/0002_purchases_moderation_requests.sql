-- Products the shop sells, known from order lines; the row also holds the exact rating counters
-- of its PUBLISHED reviews (writers lock it, so concurrent submissions and moderation serialise).
CREATE TABLE products (
    shop_id       text        NOT NULL,
    product_id    text        NOT NULL,
    first_seen_at timestamptz NOT NULL DEFAULT now(),
    r1            integer     NOT NULL DEFAULT 0 CHECK (r1 >= 0),
    r2            integer     NOT NULL DEFAULT 0 CHECK (r2 >= 0),
    r3            integer     NOT NULL DEFAULT 0 CHECK (r3 >= 0),
    r4            integer     NOT NULL DEFAULT 0 CHECK (r4 >= 0),
    r5            integer     NOT NULL DEFAULT 0 CHECK (r5 >= 0),
    PRIMARY KEY (shop_id, product_id)
);

-- What a customer bought, from order.placed / order.delivered lines: makes a verified buyer.
CREATE TABLE purchases (
    shop_id      text        NOT NULL,
    customer_id  text        NOT NULL,
    product_id   text        NOT NULL,
    order_id     text        NOT NULL,
    delivered_at timestamptz,
    cancelled_at timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (shop_id, customer_id, product_id, order_id)
);
CREATE INDEX purchases_order ON purchases (shop_id, order_id);

ALTER TABLE reviews
    ADD COLUMN hashtags         text[]      NOT NULL DEFAULT '{}',
    ADD COLUMN challenge_id     text,
    ADD COLUMN rejection_reason text,
    ADD COLUMN helpful_count    integer     NOT NULL DEFAULT 0,
    ADD COLUMN reply_body       text,
    ADD COLUMN replied_at       timestamptz,
    ADD COLUMN published_at     timestamptz,
    ADD COLUMN ugc_sent         boolean     NOT NULL DEFAULT false,
    ADD COLUMN erased_at        timestamptz;
CREATE INDEX reviews_published ON reviews (shop_id, product_id) WHERE status = 'PUBLISHED' AND erased_at IS NULL;

CREATE TABLE review_votes (
    shop_id     text        NOT NULL,
    review_id   uuid        NOT NULL,
    customer_id text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (shop_id, review_id, customer_id),
    FOREIGN KEY (shop_id, review_id) REFERENCES reviews (shop_id, id) ON DELETE CASCADE
);
CREATE INDEX review_votes_customer ON review_votes (shop_id, customer_id);

-- One open D+7 request per customer and product; deleted when the review arrives.
CREATE TABLE review_requests (
    shop_id      text        NOT NULL,
    customer_id  text        NOT NULL,
    product_id   text        NOT NULL,
    order_id     text        NOT NULL,
    delivered_at timestamptz NOT NULL,
    due_at       timestamptz NOT NULL,
    requested_at timestamptz,
    PRIMARY KEY (shop_id, customer_id, product_id)
);
