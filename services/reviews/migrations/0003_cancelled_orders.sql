-- Cancelled orders, remembered on their own: the consumer handles several events at once and
-- retries a failed one later, so an order's cancellation may be handled before its placing. The
-- purchases that placing records then start out cancelled instead of making a verified buyer.
CREATE TABLE cancelled_orders (
    shop_id      text        NOT NULL,
    order_id     text        NOT NULL,
    cancelled_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (shop_id, order_id)
);

INSERT INTO cancelled_orders (shop_id, order_id, cancelled_at)
SELECT shop_id, order_id, min(cancelled_at) FROM purchases WHERE cancelled_at IS NOT NULL
GROUP BY shop_id, order_id;
