-- Procedure requests collected by the bot (call-back for non-allocataires, attestation de
-- non-paiement), delivered to the contact centre's agents through `ivr requests`.
-- `keyed` and `transcript` are personal data: set to NULL by the retention purge, which
-- marks the row 'purged' and keeps the rest for counts. Never the caller's presented number.
CREATE TABLE requests (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    kind        TEXT    NOT NULL,
    call_id     TEXT    NOT NULL,
    flow        INTEGER NOT NULL,
    created_ms  INTEGER NOT NULL,
    topic       TEXT,
    keyed       TEXT,
    transcript  TEXT,
    status      TEXT    NOT NULL,
    handled_ms  INTEGER,
    handled_by  TEXT,
    purged_ms   INTEGER
);
CREATE INDEX requests_status ON requests (status, created_ms);
