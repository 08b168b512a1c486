-- Procedure requests collected by the bot (call-back for non-allocataires, attestation de
-- non-paiement), delivered to the contact centre's agents through `ivr requests`.
-- `keyed` and `transcript` are personal data: set to NULL by the retention purge, which
-- marks the row 'purged' and keeps the rest for counts. Never the caller's presented number.
CREATE TABLE requests (
    id          BIGSERIAL PRIMARY KEY,
    kind        TEXT    NOT NULL,
    call_id     TEXT    NOT NULL,
    flow        BIGINT NOT NULL,
    created_ms  BIGINT NOT NULL,
    topic       TEXT,
    keyed       TEXT,
    transcript  TEXT,
    status      TEXT    NOT NULL,
    handled_ms  BIGINT,
    handled_by  TEXT,
    purged_ms   BIGINT
);
CREATE INDEX requests_status ON requests (status, created_ms);
