-- Supervision shared by every instance on one database (DESIGN §9): each `ivr serve`
-- upserts its heartbeat row every 2 s; the runtime switches and exceptional closures are
-- set from the console (or `ivr switch`) and read by every instance through a 1 s cache.
CREATE TABLE instances (
    name         TEXT    PRIMARY KEY,
    started_ms   BIGINT NOT NULL,
    updated_ms   BIGINT NOT NULL,
    sip_up       BIGINT NOT NULL,
    -- JSON array of the calls in progress: reference, flow, state, topic, start (no caller data).
    calls        TEXT    NOT NULL,
    asr_queue    BIGINT NOT NULL,
    asr_p50_ms   BIGINT,
    asr_p95_ms   BIGINT,
    content      TEXT
);

-- One row: the switches in force for all instances, with who set them and when.
CREATE TABLE switches (
    id          BIGINT PRIMARY KEY CHECK (id = 1),
    saturation  BIGINT NOT NULL,
    crisis      BIGINT NOT NULL,
    closed      BIGINT NOT NULL,
    set_by      TEXT    NOT NULL,
    set_ms      BIGINT NOT NULL
);

-- Exceptional closures: Paris dates, inclusive range, a label for the supervisors.
CREATE TABLE closures (
    id          BIGSERIAL PRIMARY KEY,
    first_day   TEXT    NOT NULL,
    last_day    TEXT    NOT NULL,
    label       TEXT    NOT NULL,
    created_by  TEXT    NOT NULL,
    created_ms  BIGINT NOT NULL
);
CREATE INDEX closures_last_day ON closures (last_day);
