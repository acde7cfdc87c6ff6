-- An intent cancelled while it waited for approval used to leave its approval pending (in the
-- queue, the stats and the gauge until expiry). The service now closes it in the cancellation's
-- transaction; this closes the ones left behind before.
UPDATE approvals
SET status = 'cancelled',
    reason = 'intent cancelled',
    resolved_at = (SELECT i.updated_at FROM intents i
                   WHERE i.tenant_id = approvals.tenant_id AND i.id = approvals.intent_id),
    updated_at = (SELECT i.updated_at FROM intents i
                  WHERE i.tenant_id = approvals.tenant_id AND i.id = approvals.intent_id)
WHERE status = 'pending'
  AND EXISTS (SELECT 1 FROM intents i
              WHERE i.tenant_id = approvals.tenant_id AND i.id = approvals.intent_id
                AND i.status = 'cancelled');
