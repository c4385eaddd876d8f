-- The checker's own words on a rule version: why it was approved (or rejected). The author's `reason` stays as it
-- was written; the approval event in the audit trail carries the same text. NULL on versions decided before.
ALTER TABLE rule_set ADD COLUMN approval_comment VARCHAR;
