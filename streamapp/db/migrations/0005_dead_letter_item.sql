-- A clean message carries a batch of events (schemas.batches): a stage that parks one of
-- them keeps a letter for that event alone, named by its place in the message. -1: the
-- letter holds the whole message (raw topics, outputs, letters written before batches).
ALTER TABLE dead_letters ADD COLUMN item integer NOT NULL DEFAULT -1;
ALTER TABLE dead_letters DROP CONSTRAINT dead_letters_pkey;
ALTER TABLE dead_letters ADD PRIMARY KEY (stage, source_topic, partition, "offset", item);
