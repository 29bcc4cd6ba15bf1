-- startProgramSimulation: a simulation too large to answer at once runs as jobs, a page of customers
-- each; the run keeps both programs as they were when it started, the period's observed redemption
-- rate, where it has got to and the totals so far. Nothing else is written by a simulation.
CREATE TABLE simulation_runs (
    shop_id     text        NOT NULL,
    id          text        NOT NULL,
    proposed    jsonb       NOT NULL,  -- Program.to_json() of the proposed program, with its version
    current     jsonb       NOT NULL,
    period_from timestamptz NOT NULL,
    period_to   timestamptz NOT NULL,
    rate        numeric     NOT NULL,  -- points redeemed / earned in the period, as the ledger has them
    orders      bigint      NOT NULL,  -- paid orders in the period
    after       text,                  -- the last customer replayed; NULL once done
    customers   bigint      NOT NULL DEFAULT 0,
    totals      jsonb       NOT NULL,  -- [proposed, current] Totals.to_json()
    actor       text        NOT NULL,
    started_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    PRIMARY KEY (shop_id, id)
);
