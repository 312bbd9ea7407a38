-- Staff at every level of the territory (issue 6): besides community staff, street and
-- district officials, who work for a street (9 digits) or a district (6 digits). Notify looks
-- the people of a role up at a territory with `staff.list`.
--
-- `division` is where a member of staff works; `community` stays as it was for community
-- staff (equal to `division`) and is nil for officials, so the community-level counts of
-- stats.get and every existing query keep their meaning.
ALTER TABLE staff ADD COLUMN division text REFERENCES division (code);
UPDATE staff SET division = community;
ALTER TABLE staff ALTER COLUMN division SET NOT NULL;
ALTER TABLE staff ALTER COLUMN community DROP NOT NULL;
ALTER TABLE staff DROP CONSTRAINT staff_role_check;
ALTER TABLE staff ADD CONSTRAINT staff_role_check CHECK (role IN (
    'secretary', 'director', 'full_time', 'grid_worker', 'social_worker',
    'street_official', 'district_official'));
-- Officials have no community; community staff work where their community is.
ALTER TABLE staff ADD CONSTRAINT staff_place_check CHECK (
    CASE role
        WHEN 'street_official' THEN community IS NULL AND length (division) = 9
        WHEN 'district_official' THEN community IS NULL AND length (division) = 6
        ELSE community IS NOT NULL AND division = community
    END);
CREATE INDEX staff_division ON staff (division, role);
