-- Accounting schema (SQLite). Same tables and columns as migrations/postgres; only the
-- auto-increment syntax differs. Integers are 64-bit everywhere; booleans are 0/1.

-- Events of calls in progress: what a crash leaves behind. Deleted when the call's record commits.
CREATE TABLE call_events (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    call_id TEXT    NOT NULL,
    day     TEXT    NOT NULL,
    at_ms   INTEGER NOT NULL,
    body    TEXT    NOT NULL
);
CREATE INDEX call_events_call ON call_events (call_id);
CREATE INDEX call_events_day ON call_events (day);

-- One record per ended call, hash-chained per Paris day: hash = sha256(prev_hash || body).
-- body is the canonical JSON of the record without transcripts (they carry a digest instead).
CREATE TABLE call_records (
    call_id    TEXT    PRIMARY KEY,
    day        TEXT    NOT NULL,
    seq        INTEGER NOT NULL,
    flow       INTEGER NOT NULL,
    pseudonym  TEXT,
    withheld   INTEGER NOT NULL,
    started_ms INTEGER NOT NULL,
    ended_ms   INTEGER NOT NULL,
    body       TEXT    NOT NULL,
    prev_hash  TEXT    NOT NULL,
    hash       TEXT    NOT NULL,
    UNIQUE (day, seq)
);

-- Question transcripts, apart so that the retention purge does not touch the chained body.
CREATE TABLE transcripts (
    call_id TEXT    NOT NULL,
    idx     INTEGER NOT NULL,
    text    TEXT,
    PRIMARY KEY (call_id, idx)
);

-- Last link of each day's chain: lets verify detect a deleted last record and lets
-- several writers extend the same chain one at a time (the row is locked by the UPDATE).
CREATE TABLE chain_heads (
    day  TEXT    PRIMARY KEY,
    seq  INTEGER NOT NULL,
    hash TEXT    NOT NULL
);

-- Per-day HMAC key of caller pseudonyms; hmac_key is set to NULL when destroyed.
CREATE TABLE day_keys (
    day          TEXT    PRIMARY KEY,
    hmac_key     TEXT,
    created_ms   INTEGER NOT NULL,
    destroyed_ms INTEGER
);

-- Closed days: outcomes in call_outcomes are final, computed with `rule` (JSON).
CREATE TABLE days (
    day       TEXT    PRIMARY KEY,
    closed_ms INTEGER NOT NULL,
    rule      TEXT    NOT NULL
);

CREATE TABLE call_outcomes (
    call_id        TEXT    PRIMARY KEY,
    day            TEXT    NOT NULL,
    productive     INTEGER NOT NULL,
    reiterated     INTEGER NOT NULL,
    misses         TEXT    NOT NULL,
    interaction_ms INTEGER NOT NULL
);
CREATE INDEX call_outcomes_day ON call_outcomes (day);
