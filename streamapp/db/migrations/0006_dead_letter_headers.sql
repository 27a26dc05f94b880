-- A parked whole message keeps its headers (name and base64 value, in order), so that a
-- replay sends it as it came: a watermark is only its header (schemas.batches).
ALTER TABLE dead_letters ADD COLUMN headers jsonb NOT NULL DEFAULT '[]';
