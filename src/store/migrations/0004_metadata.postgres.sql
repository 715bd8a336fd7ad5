-- callqa schema v4 (PostgreSQL): late metadata. CSAT, resolution and the
-- like arrive from the CRM after the call (`callqa import`, a re-sent job);
-- each change to a stored result's metadata is logged here. Results are
-- found by ticket id as well as job id.
ALTER TABLE results ADD COLUMN IF NOT EXISTS ticket_id TEXT;
UPDATE results SET ticket_id = (result::jsonb) -> 'metadata' ->> 'ticket_id';
CREATE INDEX IF NOT EXISTS results_ticket ON results (ticket_id);
CREATE TABLE IF NOT EXISTS metadata_log (
    id          BIGSERIAL PRIMARY KEY,
    job_id      TEXT NOT NULL,
    actor       TEXT NOT NULL,
    source      TEXT NOT NULL,
    -- JSON object: field name → [before, after]
    changes     TEXT NOT NULL,
    at          TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS metadata_log_job ON metadata_log (job_id);
