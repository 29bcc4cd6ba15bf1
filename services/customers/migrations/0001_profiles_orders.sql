CREATE TABLE customers (
    shop_id          text        NOT NULL,
    id               text        NOT NULL,
    email            text        NOT NULL,
    first_name       text,
    last_name        text,
    locale           text        NOT NULL DEFAULT 'en',
    timezone         text,
    birthday         date,
    phone            text,
    accepts_email    boolean     NOT NULL DEFAULT false,
    accepts_sms      boolean     NOT NULL DEFAULT false,
    accepts_whatsapp boolean     NOT NULL DEFAULT false,
    referral_code    text,
    device_id        text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (shop_id, id)
);
CREATE INDEX customers_email ON customers (shop_id, email);

CREATE TABLE orders (
    shop_id               text          NOT NULL,
    id                    text          NOT NULL,
    customer_id           text          NOT NULL,
    currency              text          NOT NULL,
    status                text          NOT NULL
                          CHECK (status IN ('PLACED', 'PAID', 'SHIPPED', 'DELIVERED', 'CANCELLED', 'REFUNDED')),
    discount_total        numeric(20,4) NOT NULL DEFAULT 0 CHECK (discount_total >= 0),
    shipping_total        numeric(20,4) NOT NULL DEFAULT 0 CHECK (shipping_total >= 0),
    tax_total             numeric(20,4) NOT NULL DEFAULT 0 CHECK (tax_total >= 0),
    total                 numeric(20,4) NOT NULL CHECK (total >= 0),
    refunded_total        numeric(20,4) NOT NULL DEFAULT 0 CHECK (refunded_total >= 0 AND refunded_total <= total),
    placed_at             timestamptz   NOT NULL,
    paid_at               timestamptz,
    shipped_at            timestamptz,
    delivered_at          timestamptz,
    cancelled_at          timestamptz,
    refunded_at           timestamptz,
    referral_code         text,
    discount_codes        text[]        NOT NULL DEFAULT '{}',
    shipping_address_hash text,
    payment_fingerprint   text,
    device_id             text,
    created_at            timestamptz   NOT NULL DEFAULT now(),
    updated_at            timestamptz   NOT NULL DEFAULT now(),
    PRIMARY KEY (shop_id, id),
    FOREIGN KEY (shop_id, customer_id) REFERENCES customers (shop_id, id)
);
CREATE INDEX orders_customer ON orders (shop_id, customer_id, placed_at DESC, id DESC);

CREATE TABLE order_lines (
    shop_id    text          NOT NULL,
    order_id   text          NOT NULL,
    line_no    int           NOT NULL,
    product_id text          NOT NULL,
    quantity   int           NOT NULL CHECK (quantity > 0),
    unit_price numeric(20,4) NOT NULL CHECK (unit_price >= 0),
    PRIMARY KEY (shop_id, order_id, line_no),
    FOREIGN KEY (shop_id, order_id) REFERENCES orders (shop_id, id)
);
