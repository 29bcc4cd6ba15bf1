-- segmentCounts without counting a million customers: the live (not erased) customers per segment,
-- kept by a statement trigger from the rows each statement changed, whatever statement changed them
-- (a profile, the daily pass, an erasure, a bulk load). Like active_spells it is a log of changes that
-- the daily pass folds (store.fold_counters): an insert waits for no one, where one counter row per
-- segment would make every sign-up and segment move of a shop wait for the others, and the daily pass,
-- which moves thousands of customers in one transaction, would hold those rows until it commits.
CREATE TABLE segment_sizes (
    shop_id   text   NOT NULL,
    segment   text   NOT NULL,
    customers bigint NOT NULL
);
CREATE INDEX segment_sizes_shop ON segment_sizes (shop_id) INCLUDE (segment, customers);

CREATE FUNCTION segment_sizes_follow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO segment_sizes (shop_id, segment, customers)
        SELECT shop_id, segment, count(*) FROM new_rows WHERE erased_at IS NULL GROUP BY 1, 2;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO segment_sizes (shop_id, segment, customers)
        SELECT shop_id, segment, -count(*) FROM old_rows WHERE erased_at IS NULL GROUP BY 1, 2;
    ELSE
        INSERT INTO segment_sizes (shop_id, segment, customers)
        SELECT shop_id, segment, sum(d) FROM (
            SELECT shop_id, segment, 1 AS d FROM new_rows WHERE erased_at IS NULL
            UNION ALL
            SELECT shop_id, segment, -1 FROM old_rows WHERE erased_at IS NULL) moved
        GROUP BY 1, 2 HAVING sum(d) <> 0;
    END IF;
    RETURN NULL;
END $$;

-- No customer may change between the count below and the triggers taking over.
LOCK TABLE customers IN SHARE ROW EXCLUSIVE MODE;

INSERT INTO segment_sizes (shop_id, segment, customers)
SELECT shop_id, segment, count(*) FROM customers WHERE erased_at IS NULL GROUP BY 1, 2;

CREATE TRIGGER segment_sizes_insert AFTER INSERT ON customers
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION segment_sizes_follow();
CREATE TRIGGER segment_sizes_update AFTER UPDATE ON customers
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION segment_sizes_follow();
CREATE TRIGGER segment_sizes_delete AFTER DELETE ON customers
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION segment_sizes_follow();
