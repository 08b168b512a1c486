-- Web console: accounts, sessions and the tamper-evident audit log (DESIGN §11, §7).
-- Passwords are argon2id PHC strings; session tokens are stored as their SHA-256 only.
CREATE TABLE console_accounts (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    name            TEXT    NOT NULL UNIQUE,
    role            TEXT    NOT NULL,
    password_hash   TEXT    NOT NULL,
    disabled        INTEGER NOT NULL DEFAULT 0,
    failed_logins   INTEGER NOT NULL DEFAULT 0,
    locked_until_ms INTEGER NOT NULL DEFAULT 0,
    created_ms      INTEGER NOT NULL,
    password_ms     INTEGER NOT NULL,
    last_login_ms   INTEGER
);

CREATE TABLE console_sessions (
    token_hash  TEXT    PRIMARY KEY,
    account_id  INTEGER NOT NULL REFERENCES console_accounts (id),
    csrf        TEXT    NOT NULL,
    created_ms  INTEGER NOT NULL,
    seen_ms     INTEGER NOT NULL
);
CREATE INDEX console_sessions_account ON console_sessions (account_id);

-- One row per audited action. seq is contiguous; hash = sha256(prev_hash || canonical row),
-- so an edited, inserted or deleted row breaks the chain. The head row holds the last seq
-- and hash (a deleted tail is detected) and the anchor left by the 6-month purge.
CREATE TABLE console_audit (
    seq        INTEGER PRIMARY KEY,
    at_ms      INTEGER NOT NULL,
    actor      TEXT    NOT NULL,
    action     TEXT    NOT NULL,
    target     TEXT    NOT NULL,
    detail     TEXT    NOT NULL,
    prev_hash  TEXT    NOT NULL,
    hash       TEXT    NOT NULL
);
CREATE INDEX console_audit_at ON console_audit (at_ms);

CREATE TABLE console_audit_head (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    last_seq    INTEGER NOT NULL,
    last_hash   TEXT    NOT NULL,
    anchor_seq  INTEGER NOT NULL,
    anchor_hash TEXT    NOT NULL
);
INSERT INTO console_audit_head (id, last_seq, last_hash, anchor_seq, anchor_hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000', 0, '0000000000000000000000000000000000000000000000000000000000000000');
