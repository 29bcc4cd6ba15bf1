-- What a simulation (simulateProgram) replays of each paid order: its net amount at payment, when it
-- was delivered, and every refund or cancellation with the net amount it left. order_points keeps only
-- the latest net amount and the release time; the ledger keeps points, not amounts. Numbered 0030 so
-- that it takes no number other work in progress uses.
ALTER TABLE order_points
    ADD COLUMN paid_net     numeric CHECK (paid_net >= 0),
    ADD COLUMN delivered_at timestamptz;

CREATE TABLE order_point_changes (
    shop_id     text        NOT NULL,
    id          bigserial   NOT NULL,
    order_id    text        NOT NULL,
    customer_id text        NOT NULL,
    at          timestamptz NOT NULL,
    net_amount  numeric     NOT NULL,  -- what still counts after this refund (0 when voided)
    voided      boolean     NOT NULL,  -- cancelled or fully refunded
    PRIMARY KEY (shop_id, id)
);
CREATE INDEX order_point_changes_customer ON order_point_changes (shop_id, customer_id, at);

-- Orders recorded before: the net amount at payment is known for those never refunded; a refunded
-- one replays at what it has left, from its payment (one change at its last takeback, when it was
-- voided). The delivery is the release time less the return window of the version that earned.
UPDATE order_points SET paid_net = net_amount WHERE currency <> '';
UPDATE order_points o
SET delivered_at = o.release_at - make_interval(days => coalesce((p.config->>'pending_days')::int, 14))
FROM programs p
WHERE p.shop_id = o.shop_id AND p.version = o.rule_version AND o.release_at IS NOT NULL;
INSERT INTO order_point_changes (shop_id, order_id, customer_id, at, net_amount, voided)
SELECT o.shop_id, o.order_id, o.customer_id, coalesce(r.at, o.paid_at), o.net_amount, true
FROM order_points o
LEFT JOIN (SELECT shop_id, substring(idempotency_key FROM '^order:(.*):reverse:[0-9]+$') AS order_id,
                  max(created_at) AS at
           FROM ledger_entries WHERE kind = 'reverse' AND idempotency_key LIKE 'order:%'
           GROUP BY 1, 2) r ON r.shop_id = o.shop_id AND r.order_id = o.order_id
WHERE o.voided AND o.currency <> '';
