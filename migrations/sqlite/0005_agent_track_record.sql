-- Completed intents per agent: the track record trust-tier promotions need.
ALTER TABLE agents ADD COLUMN completed_count BIGINT NOT NULL DEFAULT 0;
