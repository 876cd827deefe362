-- Webhook secrets sealed at rest (issue 15), as secret variables are since 0008: `webhook_sealed`
-- holds version || nonce || ciphertext (XChaCha20-Poly1305 with the server's key, bound to
-- `project_sources/<project id>/webhook`) and `webhook_secret` is left NULL. Secrets already
-- stored in plain text are sealed by the code right after this migration, at open (SQL cannot
-- encrypt), with `secure_delete` on so the plain text is overwritten.
ALTER TABLE project_sources ADD COLUMN webhook_sealed BLOB;
-- The revision the project's serving deployment was made from (NULL until one succeeds), so
-- revision pruning never removes the files of what serves while a newer revision is pending.
ALTER TABLE project_sources ADD COLUMN deployed_revision INTEGER;
