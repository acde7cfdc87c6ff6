-- RFC-0013: OpenIntent approval requests and escalations join the one approval queue. An
-- approval's subject is now a /v1 intent (`intent`) or an OpenIntent intent
-- (`openintent.approval`, `openintent.escalation`), so `intent_id` no longer references
-- /v1 intents only; the services check that a subject exists when they queue it.
ALTER TABLE approvals DROP CONSTRAINT IF EXISTS approvals_tenant_id_intent_id_fkey;
-- OpenIntent subjects: the requested action (`complete` gates completion), the request as
-- JSON (requester, key, person, reason, context, priority), and the resolution named.
ALTER TABLE approvals ADD COLUMN action TEXT;
ALTER TABLE approvals ADD COLUMN request TEXT;
ALTER TABLE approvals ADD COLUMN outcome TEXT;
