-- callqa schema v5 (SQLite): the review desk. Full-text search over the
-- stored (already redacted) transcripts: an FTS5 table with the trigram
-- tokenizer, which finds any substring of three characters or more, so
-- Chinese (no spaces between words) and English both work. Its rowid is
-- the result's rowid; triggers keep it in step with `results`.
CREATE VIRTUAL TABLE IF NOT EXISTS transcript_search USING fts5(body, tokenize = 'trigram');
INSERT INTO transcript_search (rowid, body)
    SELECT r.rowid, COALESCE((SELECT group_concat(json_extract(t.value, '$.text'), char(10))
                              FROM json_each(r.result, '$.turns') t), '')
    FROM results r;
CREATE TRIGGER IF NOT EXISTS results_search_insert AFTER INSERT ON results BEGIN
    INSERT INTO transcript_search (rowid, body)
    VALUES (NEW.rowid, COALESCE((SELECT group_concat(json_extract(t.value, '$.text'), char(10))
                                 FROM json_each(NEW.result, '$.turns') t), ''));
END;
CREATE TRIGGER IF NOT EXISTS results_search_delete AFTER DELETE ON results BEGIN
    DELETE FROM transcript_search WHERE rowid = OLD.rowid;
END;
CREATE INDEX IF NOT EXISTS results_channel ON results (channel);
CREATE INDEX IF NOT EXISTS flags_rule ON flags (rule, severity);
-- Review tasks drawn by sampling plans: one per plan, period and contact;
-- a reviewer (or none, over every reviewer's cap), a due date, done or not.
CREATE TABLE IF NOT EXISTS review_tasks (
    plan_id     TEXT NOT NULL,
    period      TEXT NOT NULL,
    job_id      TEXT NOT NULL REFERENCES results (job_id) ON DELETE CASCADE,
    agent_id    TEXT NOT NULL,
    reason      TEXT NOT NULL,
    reviewer    TEXT,
    seed        BIGINT NOT NULL,
    created_at  TEXT NOT NULL,
    due_at      TEXT NOT NULL,
    done_at     TEXT,
    done_by     TEXT,
    PRIMARY KEY (plan_id, period, job_id)
);
CREATE INDEX IF NOT EXISTS review_tasks_reviewer ON review_tasks (reviewer, done_at);
-- Calibration sessions: several reviewers judge the same contacts blind,
-- rule by rule; figures and disagreements are shown once it is closed.
CREATE TABLE IF NOT EXISTS calibration_sessions (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    closed_at   TEXT
);
CREATE TABLE IF NOT EXISTS calibration_items (
    session_id  TEXT NOT NULL REFERENCES calibration_sessions (id) ON DELETE CASCADE,
    job_id      TEXT NOT NULL REFERENCES results (job_id) ON DELETE CASCADE,
    PRIMARY KEY (session_id, job_id)
);
CREATE TABLE IF NOT EXISTS calibration_verdicts (
    session_id  TEXT NOT NULL,
    job_id      TEXT NOT NULL,
    rule        TEXT NOT NULL,
    reviewer    TEXT NOT NULL,
    violated    BIGINT NOT NULL,
    at          TEXT NOT NULL,
    PRIMARY KEY (session_id, job_id, rule, reviewer),
    FOREIGN KEY (session_id, job_id) REFERENCES calibration_items (session_id, job_id) ON DELETE CASCADE
);
