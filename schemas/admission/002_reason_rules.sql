-- The rule codes of an application's reasons, as an array the burden figures can count
-- ("rejected applications by reason"); 'review' for a refusal by the community office.
ALTER TABLE application ADD COLUMN reason_rules text[] NOT NULL DEFAULT '{}';
