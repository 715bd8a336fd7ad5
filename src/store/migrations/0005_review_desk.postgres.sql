-- callqa schema v5 (PostgreSQL): the review desk. Full-text search over
-- the stored (already redacted) transcripts: one row of text per result,
-- searched with ILIKE through a pg_trgm trigram index, so Chinese (no
-- spaces between words) and English both work. A trigger keeps it in step
-- with `results`; deleting a result deletes its row.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE TABLE IF NOT EXISTS transcript_search (
    job_id TEXT PRIMARY KEY REFERENCES results (job_id) ON DELETE CASCADE,
    body   TEXT NOT NULL
);
CREATE OR REPLACE FUNCTION callqa_transcript_text(result TEXT) RETURNS TEXT
    LANGUAGE SQL IMMUTABLE AS $$
    SELECT COALESCE(string_agg(t->>'text', E'\n'), '')
    FROM jsonb_array_elements(COALESCE(result::jsonb->'turns', '[]'::jsonb)) t
$$;
INSERT INTO transcript_search (job_id, body)
    SELECT job_id, callqa_transcript_text(result) FROM results
    ON CONFLICT (job_id) DO NOTHING;
CREATE OR REPLACE FUNCTION callqa_results_search() RETURNS TRIGGER
    LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO transcript_search (job_id, body)
    VALUES (NEW.job_id, callqa_transcript_text(NEW.result))
    ON CONFLICT (job_id) DO UPDATE SET body = excluded.body;
    RETURN NEW;
END
$$;
DROP TRIGGER IF EXISTS results_search_insert ON results;
CREATE TRIGGER results_search_insert AFTER INSERT ON results
    FOR EACH ROW EXECUTE FUNCTION callqa_results_search();
CREATE INDEX IF NOT EXISTS transcript_search_trgm ON transcript_search USING gin (body gin_trgm_ops);
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
