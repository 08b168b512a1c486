-- Supervision shared by every instance on one database (DESIGN §9): each `ivr serve`
-- upserts its heartbeat row every 2 s; the runtime switches and exceptional closures are
-- set from the console (or `ivr switch`) and read by every instance through a 1 s cache.
CREATE TABLE instances (
    name         TEXT    PRIMARY KEY,
    started_ms   INTEGER NOT NULL,
    updated_ms   INTEGER NOT NULL,
    sip_up       INTEGER NOT NULL,
    -- JSON array of the calls in progress: reference, flow, state, topic, start (no caller data).
    calls        TEXT    NOT NULL,
    asr_queue    INTEGER NOT NULL,
    asr_p50_ms   INTEGER,
    asr_p95_ms   INTEGER,
    content      TEXT
);

-- One row: the switches in force for all instances, with who set them and when.
CREATE TABLE switches (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    saturation  INTEGER NOT NULL,
    crisis      INTEGER NOT NULL,
    closed      INTEGER NOT NULL,
    set_by      TEXT    NOT NULL,
    set_ms      INTEGER NOT NULL
);

-- Exceptional closures: Paris dates, inclusive range, a label for the supervisors.
CREATE TABLE closures (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    first_day   TEXT    NOT NULL,
    last_day    TEXT    NOT NULL,
    label       TEXT    NOT NULL,
    created_by  TEXT    NOT NULL,
    created_ms  INTEGER NOT NULL
);
CREATE INDEX closures_last_day ON closures (last_day);
