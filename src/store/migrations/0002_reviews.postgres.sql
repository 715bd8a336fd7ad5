-- callqa schema v2 (PostgreSQL): people who use the review page, human
-- decisions on flags, agents' disputes, supervisor scores and an audit log.
CREATE TABLE IF NOT EXISTS users (
    name        TEXT PRIMARY KEY,
    role        TEXT NOT NULL,
    agent_id    TEXT,
    token_hash  TEXT NOT NULL UNIQUE,
    created_at  TEXT NOT NULL,
    disabled    BOOLEAN NOT NULL DEFAULT FALSE
);
-- The current decision on each flag; review_log keeps the history.
CREATE TABLE IF NOT EXISTS flag_reviews (
    job_id      TEXT NOT NULL,
    idx         BIGINT NOT NULL,
    decision    TEXT NOT NULL,
    comment     TEXT NOT NULL,
    reviewer    TEXT NOT NULL,
    decided_at  TEXT NOT NULL,
    PRIMARY KEY (job_id, idx),
    FOREIGN KEY (job_id, idx) REFERENCES flags (job_id, idx) ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS disputes (
    job_id      TEXT NOT NULL,
    idx         BIGINT NOT NULL,
    agent_id    TEXT NOT NULL,
    opened_by   TEXT NOT NULL,
    reason      TEXT NOT NULL,
    opened_at   TEXT NOT NULL,
    status      TEXT NOT NULL,
    decided_by  TEXT,
    decision_comment TEXT,
    decided_at  TEXT,
    PRIMARY KEY (job_id, idx),
    FOREIGN KEY (job_id, idx) REFERENCES flags (job_id, idx) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS disputes_status ON disputes (status, agent_id);
CREATE TABLE IF NOT EXISTS supervisor_scores (
    period      TEXT NOT NULL,
    agent_id    TEXT NOT NULL,
    score       DOUBLE PRECISION NOT NULL,
    comment     TEXT NOT NULL,
    scored_by   TEXT NOT NULL,
    scored_at   TEXT NOT NULL,
    PRIMARY KEY (period, agent_id)
);
CREATE TABLE IF NOT EXISTS review_log (
    id          BIGSERIAL PRIMARY KEY,
    job_id      TEXT NOT NULL,
    idx         BIGINT NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    comment     TEXT NOT NULL,
    at          TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS review_log_job ON review_log (job_id, idx);
