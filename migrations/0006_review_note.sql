-- "Send back with a note": the admin's note when a request goes back to its member
-- (state `changes_requested`). Kept after the member resubmits, so the next review sees what was
-- asked for; replaced by the next note.
ALTER TABLE projects ADD COLUMN review_note TEXT;
