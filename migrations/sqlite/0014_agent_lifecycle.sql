-- RFC-0016 agent lifecycle over the one agent registry: an agent of /v1/agents that
-- registers through the OpenIntent face gains a lifecycle (NULL until then). Its governance
-- status (active/suspended, set by admins) is a separate switch and stays as it is.
ALTER TABLE agents ADD COLUMN lifecycle_status TEXT;
-- JSON: capabilities, capacity, endpoint, heartbeat_config, metadata, role_id, ...
ALTER TABLE agents ADD COLUMN lifecycle TEXT;
ALTER TABLE agents ADD COLUMN lifecycle_version BIGINT NOT NULL DEFAULT 0;
ALTER TABLE agents ADD COLUMN last_heartbeat_at BIGINT;
-- From heartbeat_config, so the health sweep is one indexed statement.
ALTER TABLE agents ADD COLUMN unhealthy_after_ms BIGINT;
ALTER TABLE agents ADD COLUMN dead_after_ms BIGINT;
CREATE INDEX agents_lifecycle_health ON agents (lifecycle_status, last_heartbeat_at);
