-- What this service has seen of each order of a customer, kept whatever order the events arrive in.
-- The consumer handles several messages at once and retries a failed one after a delay, so a refund
-- may be handled before the payment, or an order before the sign-up that brought the referral; the
-- referral is then worked out from these facts (attribution.advance) instead of from the event
-- being handled. `first_seen` is the earliest event time of the order seen (the customers service's
-- clock, the same clock as the sign-up's), which orders it against the referral's `started_at`.
CREATE TABLE friend_orders (
    shop_id        text          NOT NULL,
    customer_id    text          NOT NULL,
    order_id       text          NOT NULL,
    first_seen     timestamptz   NOT NULL,
    paid_net       numeric(20,4),
    currency       text,
    delivered      boolean       NOT NULL DEFAULT false,
    cancelled      boolean       NOT NULL DEFAULT false,
    refunded_net   numeric(20,4),  -- the net left after refunds: the lowest seen, as refunds only grow
    fully_refunded boolean       NOT NULL DEFAULT false,
    PRIMARY KEY (shop_id, customer_id, order_id)
);

-- When the friend was referred: the time of the sign-up or order event that brought the code.
ALTER TABLE referrals ADD COLUMN started_at timestamptz;
UPDATE referrals SET started_at = created_at;
ALTER TABLE referrals ALTER COLUMN started_at SET NOT NULL, ALTER COLUMN started_at SET DEFAULT now();

-- Orders already remembered; their times are unknown. A referral's own order counts as seen when
-- the referral started, any other as seen now, after every existing referral started: so no
-- existing referral becomes NOT_NEW or moves to another order through this migration.
INSERT INTO friend_orders (shop_id, customer_id, order_id, first_seen, currency, paid_net, delivered)
SELECT r.shop_id, r.friend_id, r.order_id, r.started_at, r.currency,
       CASE WHEN r.order_paid THEN r.order_net END,
       coalesce(r.order_id = ANY (f.delivered_order_ids), false)
FROM referrals r
LEFT JOIN customer_facts f ON f.shop_id = r.shop_id AND f.customer_id = r.friend_id
WHERE r.order_id IS NOT NULL;

INSERT INTO friend_orders (shop_id, customer_id, order_id, first_seen, delivered)
SELECT f.shop_id, f.customer_id, o.order_id, now(), o.order_id = ANY (f.delivered_order_ids)
FROM customer_facts f
CROSS JOIN LATERAL (SELECT DISTINCT unnest(f.order_ids || f.delivered_order_ids) AS order_id) o
ON CONFLICT DO NOTHING;
