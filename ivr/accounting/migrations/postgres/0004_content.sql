-- Content as versioned data (DESIGN §11): each version is an immutable snapshot of the
-- knowledge base and prompts (JSON path → text); a publication says which version runs
-- (the latest publication wins); one shared draft is being edited; each running instance
-- reports which version it loaded.
CREATE TABLE content_versions (
    id                 BIGSERIAL PRIMARY KEY,
    created_ms         BIGINT  NOT NULL,
    author             TEXT    NOT NULL,
    note               TEXT    NOT NULL,
    digest             TEXT    NOT NULL,
    -- JSON array of checker messages ("path:line: reason"); "[]" = valid.
    problems           TEXT    NOT NULL,
    snapshot           TEXT    NOT NULL,
    first_published_ms BIGINT
);

CREATE TABLE content_publications (
    seq          BIGSERIAL PRIMARY KEY,
    version      BIGINT  NOT NULL REFERENCES content_versions (id),
    at_ms        BIGINT  NOT NULL,
    published_by TEXT    NOT NULL
);

-- At most one row (id = 1).
CREATE TABLE content_draft (
    id           BIGINT PRIMARY KEY CHECK (id = 1),
    snapshot     TEXT    NOT NULL,
    base_version BIGINT,
    updated_ms   BIGINT  NOT NULL,
    updated_by   TEXT    NOT NULL
);

CREATE TABLE content_instances (
    instance TEXT    PRIMARY KEY,
    version  BIGINT  NOT NULL,
    ok       BIGINT  NOT NULL,
    detail   TEXT    NOT NULL,
    at_ms    BIGINT  NOT NULL
);
