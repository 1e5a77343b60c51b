-- PLACEHOLDER, NOT FOR MAIN: migration 0009 belongs to the archive work
-- (issue 13, branch wp-archive). This branch (wp-anchors) needs 0010 and
-- the loader refuses a gap, so this no-op stands in for 0009 here only.
-- Delete this file when merging wp-anchors after wp-archive.
SELECT 1;
