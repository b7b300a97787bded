-- eBOK data of the collector: readings customers submit (main or sub-meter, optional photo),
-- pending until a clerk accepts (then written as a reading with source 'customer') or rejects.

alter table reading drop constraint if exists reading_source_check;
alter table reading add constraint reading_source_check check (source in
    ('wmbus', 'mbus', 'modbus', 'mqtt', 'handheld', 'file', 'manual', 'ebok', 'estimate', 'seed',
     'customer'));

create table submitted_reading (
    submitted_reading_id bigint generated always as identity primary key,
    customer_id   bigint not null references customer,
    meter_id      bigint not null references meter,
    read_at       timestamptz not null,
    volume_ml     bigint not null check (volume_ml >= 0),
    attachment_id bigint references attachment,
    note          text check (length(note) <= 500),
    status        text not null default 'pending' check (status in ('pending', 'accepted', 'rejected')),
    decided_by    bigint references app_user,
    decided_at    timestamptz,
    answer        text,
    created_at    timestamptz not null default now(),
    check ((status = 'pending') = (decided_at is null))
);
create index submitted_reading_customer on submitted_reading (customer_id, created_at desc);
create index submitted_reading_pending on submitted_reading (created_at) where status = 'pending';
