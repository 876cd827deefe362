-- Secret project variables are stored sealed (XChaCha20-Poly1305 with the server's key; see
-- crates/registry/src/secrets.rs): `sealed` holds version || nonce || ciphertext and `value` is
-- left empty. Secrets a registry already holds in plain text are sealed by the code right after
-- this migration, at open (SQL cannot encrypt), in one transaction with `secure_delete` on so the
-- plain text is overwritten, not merely freed.
ALTER TABLE project_variables ADD COLUMN sealed BLOB;
