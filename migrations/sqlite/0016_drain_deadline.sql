-- RFC-0016 drain timeouts: when a draining agent (with a `drain_timeout_seconds`) is
-- deregistered by the health sweep if it has not finished by then.
ALTER TABLE agents ADD COLUMN drain_deadline_at BIGINT;
