CREATE TABLE reviews (
    shop_id        text        NOT NULL,
    id             uuid        NOT NULL DEFAULT gen_random_uuid(),
    customer_id    text        NOT NULL,
    product_id     text        NOT NULL,
    order_id       text,
    rating         smallint    NOT NULL CHECK (rating BETWEEN 1 AND 5),
    title          text,
    body           text        NOT NULL,
    media_urls     text[]      NOT NULL DEFAULT '{}',
    status         text        NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'PUBLISHED', 'REJECTED')),
    verified_buyer boolean     NOT NULL DEFAULT false,
    incentivized   boolean     NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (shop_id, id),
    UNIQUE (shop_id, customer_id, product_id)
);
CREATE INDEX reviews_product ON reviews (shop_id, product_id, created_at DESC);
