-- The language each account last chose in the portal (issue 19: `en` or `ko`), so the e-mail and
-- chat notes an owner gets speak it. NULL: none chosen yet, the club's `[club] language`.
ALTER TABLE users ADD COLUMN language TEXT;
