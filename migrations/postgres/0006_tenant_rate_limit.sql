-- Per-tenant override of the per-key request limit (requests per minute); NULL = the default.
ALTER TABLE tenants ADD COLUMN rate_limit_per_minute BIGINT;
