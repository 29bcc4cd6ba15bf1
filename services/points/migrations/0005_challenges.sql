-- Community challenges (DOMAIN.md "Community challenges"): an admin launches a challenge with a goal
-- over events, a window and an audience; joined customers make progress, each event counted once per
-- challenge (challenge_counts is the natural key, not only the inbox); completion grants the reward
-- points once through the ledger and a badge. Streaks count consecutive ISO weeks with activity.

CREATE TABLE challenges (
    shop_id            text        NOT NULL,
    id                 text        NOT NULL,
    title              text        NOT NULL,
    description        text,
    hashtag            text,
    goal_event         text        NOT NULL CHECK (goal_event IN ('REVIEW_PUBLISHED', 'ORDER_PAID',
                                                                   'REFERRAL_CONVERTED', 'UGC_SUBMITTED')),
    goal_count         int         NOT NULL CHECK (goal_count > 0),
    goal_with_media    boolean     NOT NULL DEFAULT false,
    goal_hashtag       text,
    starts_at          timestamptz NOT NULL,
    ends_at            timestamptz NOT NULL CHECK (ends_at > starts_at),
    ended_at           timestamptz,  -- an early end by an admin
    audience           text,         -- NULL: everyone; else a segment
    reward_points      int         NOT NULL CHECK (reward_points >= 0),
    badge              text,
    leaderboard_bonus  int         NOT NULL DEFAULT 0 CHECK (leaderboard_bonus >= 0),
    leaderboard_top    int         NOT NULL DEFAULT 3 CHECK (leaderboard_top > 0),
    bonus_granted_at   timestamptz,
    idempotency_key    text,
    input_hash         text        NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (shop_id, id),
    UNIQUE (shop_id, idempotency_key)
);
CREATE INDEX challenges_window ON challenges (shop_id, goal_event, starts_at);

CREATE TABLE challenge_progress (
    shop_id          text        NOT NULL,
    challenge_id     text        NOT NULL,
    customer_id      text        NOT NULL,
    progress         int         NOT NULL DEFAULT 0 CHECK (progress >= 0),
    joined_at        timestamptz NOT NULL DEFAULT now(),
    last_progress_at timestamptz,
    completed_at     timestamptz,
    PRIMARY KEY (shop_id, challenge_id, customer_id),
    FOREIGN KEY (shop_id, challenge_id) REFERENCES challenges (shop_id, id)
);
CREATE INDEX challenge_progress_customer ON challenge_progress (shop_id, customer_id);
CREATE INDEX challenge_progress_rank ON challenge_progress (shop_id, challenge_id, progress DESC);

-- One row per (challenge, source event's natural key): an event counts once per challenge, even when
-- replayed under a new event id.
CREATE TABLE challenge_counts (
    shop_id      text        NOT NULL,
    challenge_id text        NOT NULL,
    source_key   text        NOT NULL,  -- review:<id>, order:<id>, referral:<id>, ugc:<id>
    customer_id  text        NOT NULL,
    event_id     text        NOT NULL,
    occurred_at  timestamptz NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (shop_id, challenge_id, source_key)
);

-- A copy of each customer's segment (customer.segment_changed), for challenge audiences.
CREATE TABLE customer_segments (
    shop_id     text        NOT NULL,
    customer_id text        NOT NULL,
    segment     text        NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (shop_id, customer_id)
);

-- Badges a customer holds: once per badge name; `source` says what awarded it.
CREATE TABLE badges (
    shop_id     text        NOT NULL,
    customer_id text        NOT NULL,
    badge       text        NOT NULL,
    source      text        NOT NULL,
    awarded_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (shop_id, customer_id, badge)
);

-- ISO weeks (their Monday) in which a customer paid an order or published a review: streaks.
CREATE TABLE activity_weeks (
    shop_id     text NOT NULL,
    customer_id text NOT NULL,
    week        date NOT NULL,
    PRIMARY KEY (shop_id, customer_id, week)
);
