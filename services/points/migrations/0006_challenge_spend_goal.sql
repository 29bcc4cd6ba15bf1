-- An ORDER_PAID goal may measure spend (whole currency units of the net amount) instead of orders.
ALTER TABLE challenges
    ADD COLUMN goal_measure text NOT NULL DEFAULT 'COUNT' CHECK (goal_measure IN ('COUNT', 'SPEND'));
