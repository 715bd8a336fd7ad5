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
