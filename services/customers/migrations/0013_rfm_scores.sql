-- RFM scores in a table of their own. The daily pass wrote them into customers in one statement
-- over the whole active base, which held every scored customer's row locked for its ~30 s at 1M
-- customers: their orders (whose transitions lock the customer first) waited, past the pool's 30 s
-- command timeout. Here only scores that changed are written, and nothing else locks these rows.
-- The run's time is kept once per shop, so an unchanged score is not rewritten for a new date.
CREATE TABLE rfm_scores (
    shop_id     text     NOT NULL,
    customer_id text     NOT NULL,
    recency     smallint NOT NULL CHECK (recency BETWEEN 1 AND 5),
    frequency   smallint NOT NULL CHECK (frequency BETWEEN 1 AND 5),
    monetary    smallint NOT NULL CHECK (monetary BETWEEN 1 AND 5),
    PRIMARY KEY (shop_id, customer_id)
);

CREATE TABLE rfm_runs (
    shop_id     text        PRIMARY KEY,
    computed_at timestamptz NOT NULL
);

INSERT INTO rfm_scores (shop_id, customer_id, recency, frequency, monetary)
SELECT shop_id, id, rfm_recency, rfm_frequency, rfm_monetary FROM customers WHERE rfm_at IS NOT NULL;

INSERT INTO rfm_runs (shop_id, computed_at)
SELECT shop_id, max(rfm_at) FROM customers WHERE rfm_at IS NOT NULL GROUP BY shop_id;
