-- Predictions (issue 22): a buy-till-you-die model fitted per shop by a nightly job (and on demand),
-- stored per customer so that Customer.prediction is one indexed read. The fit's outcome, its parameters
-- or the reason there is none (too few buyers), is kept per shop. Numbered 0030 so that it takes no
-- number other work in progress uses.
CREATE TABLE prediction_fits (
    shop_id       text        PRIMARY KEY,
    status        text        NOT NULL CHECK (status IN ('FITTED', 'TOO_FEW_BUYERS', 'NOT_FITTED')),
    reason        text,
    model         text        NOT NULL,
    params        jsonb,
    buyers        int         NOT NULL,
    repeat_buyers int         NOT NULL,
    currency      text,
    fitted_at     timestamptz NOT NULL
);

CREATE TABLE predictions (
    shop_id            text             NOT NULL,
    customer_id        text             NOT NULL,
    probability_active double precision NOT NULL,
    expected_orders_90d double precision NOT NULL,
    expected_value_12m numeric(20,4)    NOT NULL,
    PRIMARY KEY (shop_id, customer_id)
);
