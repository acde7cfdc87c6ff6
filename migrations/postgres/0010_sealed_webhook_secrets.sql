-- Webhook signing secrets are stored sealed (src/secrets): `secret` and `previous_secret` hold
-- base64(nonce ‖ XChaCha20-Poly1305 ciphertext) under the server key whose id is beside each.
-- A NULL key id marks a secret stored in clear before this migration; the server seals those
-- when it starts.
ALTER TABLE webhook_endpoints ADD COLUMN secret_key_id TEXT;
ALTER TABLE webhook_endpoints ADD COLUMN previous_secret_key_id TEXT;
