-- Alarm escalation (collector::alarms::escalation): an alarm left open (unacknowledged) too
-- long, or reported again and again, steps up one level at a time (severity info → warning →
-- critical). escalated_occurrences is the occurrence count at the last escalation, so the
-- "keeps recurring" rule counts the repeats since then; each step is also appended to
-- details->'escalations'.
alter table alarm
    add column escalation_level smallint not null default 0 check (escalation_level >= 0),
    add column escalated_at timestamptz,
    add column escalated_occurrences int not null default 0 check (escalated_occurrences >= 0),
    add constraint alarm_escalated_at_with_level
        check ((escalation_level = 0) = (escalated_at is null));

