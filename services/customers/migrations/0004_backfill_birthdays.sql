-- Customers with a birthday recorded before greetings existed: schedule their next greeting the
-- way store.schedule_birthday does (09:00 local on the day; 29 February on the 28th in common
-- years; a birthday that is today is greeted now).

WITH b AS (
    SELECT shop_id, id, birthday, coalesce(timezone, 'UTC') AS tz,
           (now() AT TIME ZONE coalesce(timezone, 'UTC'))::date AS today
    FROM customers WHERE birthday IS NOT NULL AND erased_at IS NULL
), candidates AS (
    SELECT b.*, y,
           make_date(y, extract(month FROM birthday)::int,
                     CASE WHEN extract(month FROM birthday) = 2 AND extract(day FROM birthday) = 29
                               AND NOT (y % 4 = 0 AND (y % 100 <> 0 OR y % 400 = 0)) THEN 28
                          ELSE extract(day FROM birthday)::int END) AS on_day
    FROM b, LATERAL (VALUES (extract(year FROM b.today)::int), (extract(year FROM b.today)::int + 1)) AS years(y)
), next AS (
    SELECT DISTINCT ON (shop_id, id) * FROM candidates WHERE on_day >= today ORDER BY shop_id, id, y
)
INSERT INTO scheduled_jobs (shop_id, kind, dedup_key, due_at, payload)
SELECT shop_id, 'customer.birthday', id || chr(31) || y || '-' || birthday::text,
       greatest(now(), (on_day + time '09:00') AT TIME ZONE tz),
       jsonb_build_object('customer_id', id, 'year', y)
FROM next
ON CONFLICT DO NOTHING;
