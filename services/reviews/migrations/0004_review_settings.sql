-- A shop's review settings as versions (services/reviews/settings.py): the D+7 request delay and the
-- media hosts. No row: the defaults. Every change inserts the next version; the highest applies.
CREATE TABLE review_settings (
    shop_id    text        NOT NULL,
    version    integer     NOT NULL CHECK (version > 0),
    settings   jsonb       NOT NULL,
    actor      text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (shop_id, version)
);
