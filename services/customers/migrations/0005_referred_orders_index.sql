-- retentionMetrics' referral rate joins new customers' first orders to the few orders whose referral
-- converted: a small partial index lets that be a hash join over those few instead of one primary-key
-- probe per new customer (hundreds of thousands a year in a large shop).
CREATE INDEX orders_referral_converted ON orders (shop_id, id) WHERE referral_converted;
