-- The day's last reading whole in its rollup: where it came from and its quality flags, beside
-- its time and register already there. The customer's pages then show each meter's last
-- reading and a day-by-day history from this one table, without searching `reading` (whose
-- generic plans open every monthly partition). Null only where no reading matches (none
-- should); readers then search `reading` itself.
alter table reading_daily
    add column last_source text,
    add column last_quality smallint;

update reading_daily d
set last_source = r.source, last_quality = r.quality
from reading r
where r.meter_id = d.meter_id and r.read_at = d.last_read_at;
