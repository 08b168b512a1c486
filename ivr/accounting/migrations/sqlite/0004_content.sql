-- Content as versioned data (DESIGN §11): each version is an immutable snapshot of the
-- knowledge base and prompts (JSON path → text); a publication says which version runs
-- (the latest publication wins); one shared draft is being edited; each running instance
-- reports which version it loaded.
CREATE TABLE content_versions (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    created_ms         INTEGER NOT NULL,
    author             TEXT    NOT NULL,
    note               TEXT    NOT NULL,
    digest             TEXT    NOT NULL,
    -- JSON array of checker messages ("path:line: reason"); "[]" = valid.
    problems           TEXT    NOT NULL,
    snapshot           TEXT    NOT NULL,
    first_published_ms INTEGER
);

CREATE TABLE content_publications (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    version      INTEGER NOT NULL REFERENCES content_versions (id),
    at_ms        INTEGER NOT NULL,
    published_by TEXT    NOT NULL
);

-- At most one row (id = 1).
CREATE TABLE content_draft (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    snapshot     TEXT    NOT NULL,
    base_version INTEGER,
    updated_ms   INTEGER NOT NULL,
    updated_by   TEXT    NOT NULL
);

CREATE TABLE content_instances (
    instance TEXT    PRIMARY KEY,
    version  INTEGER NOT NULL,
    ok       INTEGER NOT NULL,
    detail   TEXT    NOT NULL,
    at_ms    INTEGER NOT NULL
);
