-- What the issue planner (internal/issues) needs to remember about each issue
-- besides its number, so that reports can show the route taken and the
-- planner can tell a new, worse state from the one already reported
-- (SPEC §2.3, §5, §7):
--   routed_via  maintainers | codeowners | default ('' before this migration)
--   assignees   JSON array of the handles assigned
--   condition   what the issue last reported: for recert the reason
--               (expiring, expired, no-healthy-attestation), for lost the
--               lost pointer versions (path@commit, sorted, newline-separated);
--               '' once the recipe recovered and the auditor closed it.
ALTER TABLE issues ADD COLUMN routed_via TEXT NOT NULL DEFAULT '';
ALTER TABLE issues ADD COLUMN assignees  TEXT NOT NULL DEFAULT '[]';
ALTER TABLE issues ADD COLUMN condition  TEXT NOT NULL DEFAULT '';

-- The journal row of an operation names the issue it acted on and, for
-- failures, how many times it was tried.
ALTER TABLE issue_ops ADD COLUMN number   INTEGER NOT NULL DEFAULT 0;
ALTER TABLE issue_ops ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
CREATE INDEX issue_ops_target ON issue_ops (recipe, kind, id);
