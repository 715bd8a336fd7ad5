-- callqa schema v1 (PostgreSQL): results, their flags, and failed jobs.
CREATE TABLE IF NOT EXISTS results (
    job_id       TEXT PRIMARY KEY,
    agent_id     TEXT NOT NULL,
    team         TEXT,
    role         TEXT,
    kind         TEXT NOT NULL,
    language     TEXT NOT NULL,
    channel      TEXT NOT NULL,
    score        DOUBLE PRECISION NOT NULL,
    passed       BOOLEAN NOT NULL,
    flag_count   BIGINT NOT NULL,
    customer_id  TEXT,
    started_at   TEXT,
    processed_at TEXT NOT NULL,
    result       TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS results_agent ON results (agent_id, started_at);
CREATE INDEX IF NOT EXISTS results_started ON results (started_at);
CREATE TABLE IF NOT EXISTS flags (
    job_id    TEXT NOT NULL REFERENCES results (job_id) ON DELETE CASCADE,
    idx       BIGINT NOT NULL,
    agent_id  TEXT NOT NULL,
    flag      TEXT NOT NULL,
    rule      TEXT NOT NULL,
    severity  TEXT NOT NULL,
    start_s   DOUBLE PRECISION NOT NULL,
    end_s     DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (job_id, idx)
);
CREATE INDEX IF NOT EXISTS flags_flag ON flags (flag);
CREATE TABLE IF NOT EXISTS failures (
    job_key     TEXT PRIMARY KEY,
    job_id      TEXT,
    source      TEXT NOT NULL,
    stage       TEXT NOT NULL,
    disposition TEXT NOT NULL,
    reason      TEXT NOT NULL,
    attempts    BIGINT NOT NULL,
    failed_at   TEXT NOT NULL
);
