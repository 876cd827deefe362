-- Off-site copies of backups (`[backup] restic_repository`): after a backup completes it is
-- copied into the restic repository; the snapshot id it became, or why the copy failed, is kept
-- on its row so `backup list` shows which backups exist off-site. NULL in both: no copy asked
-- (no repository configured) or not tried yet.
ALTER TABLE backups ADD COLUMN offsite TEXT;
ALTER TABLE backups ADD COLUMN offsite_error TEXT;
