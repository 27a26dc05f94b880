-- Every stage that parks a message keeps its own dead letter: a sink's rejection and
-- predict-games' letter for the same clean offset used to share one key, and one reason
-- was dropped. The key's exact bytes go to key_bytes (text cannot hold NUL; `key` keeps a
-- printable form), and a replayed message's letter names the letter it was re-sent from.
ALTER TABLE dead_letters
    ADD COLUMN stage     text,
    ADD COLUMN key_bytes bytea,
    ADD COLUMN replay_of text;

-- Existing rows: the stage that wrote such letters before stages were recorded (the same
-- rules as schemas.deadletter.legacy_stage). Their key_bytes stay NULL: only the text was
-- kept.
UPDATE dead_letters SET stage = CASE
    WHEN error_type = 'sink_rejected'
        THEN coalesce('sink-' || substring(reason FROM '^sink (\w+):'), 'sink')
    WHEN source_topic LIKE 'backfill:%' THEN 'backfill'
    WHEN split_part(reverse(source_topic), '.', 2) = 'war'
        THEN 'ingest-' || reverse(split_part(reverse(source_topic), '.', 1))
    WHEN split_part(reverse(source_topic), '.', 2) = 'naelc'
         AND reverse(split_part(reverse(source_topic), '.', 1)) IN ('games', 'odds')
        THEN 'predict-games'
    WHEN split_part(reverse(source_topic), '.', 2) = 'naelc'
         AND reverse(split_part(reverse(source_topic), '.', 1)) = 'injuries'
        THEN 'assess-injuries'
    WHEN reverse(split_part(reverse(source_topic), '.', 1)) = 'control'
        THEN 'follow-model-versions'
    ELSE 'unknown'
END;

ALTER TABLE dead_letters ALTER COLUMN stage SET NOT NULL;
ALTER TABLE dead_letters DROP CONSTRAINT dead_letters_pkey;
ALTER TABLE dead_letters ADD PRIMARY KEY (stage, source_topic, partition, "offset");
-- Every letter of one source message, whichever stage parked it; and selections by time.
CREATE INDEX dead_letters_source ON dead_letters (source_topic, partition, "offset");
CREATE INDEX dead_letters_received ON dead_letters (received_at);
