-- callqa schema v3: one row the health check and the worker's backpressure
-- rewrite, so "healthy" means a write commits, not only that a SELECT answers
-- (a full disk still answers SELECT 1).
CREATE TABLE IF NOT EXISTS callqa_health (
    id          BIGINT PRIMARY KEY,
    checked_at  TEXT NOT NULL
);
