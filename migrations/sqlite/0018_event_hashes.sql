-- RFC-0019: each logged OpenIntent event carries the sequence and hash of its audit record,
-- stamped by the statement that appends the record (src/store/audit.rs): the event log is
-- verifiable through the audit chain and its signed checkpoints. Null for events logged
-- before this migration.
ALTER TABLE oi_events ADD COLUMN audit_sequence BIGINT;
ALTER TABLE oi_events ADD COLUMN event_hash TEXT;
