-- Unanswered-questions inbox of the console: what an editor decided about a group of
-- similar questions the bot could not answer ('phrasing' added to a topic, 'out-of-scope'
-- added to @none, 'ignored'). A group is known by the SHA-256 of its normalized text, so no
-- caller's words outlive the transcripts' retention here. Questions asked after the mark
-- show again (the fix did not hold, or is not published yet).
CREATE TABLE inbox_marks (
    text_key   TEXT    PRIMARY KEY,
    status     TEXT    NOT NULL,
    topic      TEXT,
    marked_by  TEXT    NOT NULL,
    marked_ms  INTEGER NOT NULL
);
