-- Schema v1, part 2: the meter data path, owned by ewoda-collector.
-- district, meter, reading (time series), reading_daily, alarm, dead_letter.

-- Hydraulic zones (DMA) fed through a bulk meter at the inlet; used for water balance
-- and night-flow analysis.
create table district (
    district_id   bigint generated always as identity primary key,
    code          text not null unique,
    name          text not null,
    inlet_meter_id bigint,
    created_at    timestamptz not null default now()
);

-- A physical meter. The wM-Bus identity (manufacturer + 8-digit id + version + device type)
-- is how telegrams find it; wired M-Bus uses the primary address on a serial line, Modbus a
-- unit id on a device. The AES-128 key is stored encrypted with the master key
-- (AES-256-GCM, nonce || ciphertext || tag); it is never stored in clear.
create table meter (
    meter_id        bigint generated always as identity primary key,
    serial          text not null unique,
    manufacturer    char(3) not null check (manufacturer ~ '^[A-Z@]{3}$'),
    model           text not null,
    medium          text not null default 'water'
                    check (medium in ('water', 'warm_water', 'hot_water', 'cold_water', 'heat', 'gas', 'electricity')),
    radio_id        char(8) check (radio_id ~ '^[0-9A-F]{8}$'),
    radio_version   smallint check (radio_version between 0 and 255),
    radio_device_type smallint check (radio_device_type between 0 and 255),
    mbus_primary_address smallint check (mbus_primary_address between 0 and 250),
    modbus_unit     smallint check (modbus_unit between 0 and 247),
    aes_key_enc     bytea check (aes_key_enc is null or length(aes_key_enc) = 44),
    register_digits smallint not null default 5 check (register_digits between 4 and 10),
    resolution_ml   int not null default 1000 check (resolution_ml > 0),
    role            text not null default 'main' check (role in ('main', 'sub', 'bulk')),
    district_id     bigint references district,
    status          text not null default 'active' check (status in ('stock', 'active', 'removed', 'scrapped')),
    verified_until  date,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now(),
    unique (manufacturer, radio_id)
);
alter table district add constraint district_inlet_meter_fk
    foreign key (inlet_meter_id) references meter;

-- Register readings: a time series keyed (meter, read_at), so one reading is stored once
-- whatever number of receivers or retries delivered it. Volumes are integer millilitres.
-- quality is a bit set (see collector::quality): 1 validated, 2 estimated, 4 edited,
-- 8 rollover, 16 replacement, 32 implausible, 64 reverse flow, 128 clock suspect.
-- With TimescaleDB it is a hypertable; on plain PostgreSQL, monthly range partitions that
-- reading_ensure_partitions() creates ahead of time.
do $$
begin
    if exists (select 1 from pg_available_extensions where name = 'timescaledb') then
        create extension if not exists timescaledb;
    end if;
end $$;

do $$
declare
    timescale boolean := exists (select 1 from pg_extension where extname = 'timescaledb');
    ddl text := $ddl$
        create table reading (
            meter_id   bigint not null references meter,
            read_at    timestamptz not null,
            volume_ml  bigint not null check (volume_ml >= 0),
            source     text not null check (source in
                         ('wmbus', 'mbus', 'modbus', 'mqtt', 'handheld', 'file', 'manual', 'ebok', 'estimate', 'seed')),
            quality    smallint not null default 0 check (quality >= 0),
            received_at timestamptz not null default now(),
            primary key (meter_id, read_at)
        ) $ddl$;
begin
    if timescale then
        execute ddl;
        perform create_hypertable('reading', 'read_at', chunk_time_interval => interval '1 month');
    else
        execute ddl || ' partition by range (read_at)';
    end if;
end $$;
create index reading_read_at_brin on reading using brin (read_at);

-- Creates the monthly partitions of reading that cover [from_ts, to_ts]. Idempotent;
-- a no-op under TimescaleDB, which makes chunks itself. Returns how many it created.
create function reading_ensure_partitions(from_ts timestamptz, to_ts timestamptz) returns int
language plpgsql as $$
declare
    m date := date_trunc('month', from_ts at time zone 'UTC')::date;
    last_m date := date_trunc('month', to_ts at time zone 'UTC')::date;
    part text;
    created int := 0;
begin
    if exists (select 1 from pg_extension where extname = 'timescaledb') then
        return 0;
    end if;
    while m <= last_m loop
        part := 'reading_' || to_char(m, 'YYYY_MM');
        if to_regclass(part) is null then
            execute format(
                'create table %I partition of reading for values from (%L) to (%L)',
                part, (m::timestamp at time zone 'UTC'), ((m + interval '1 month')::timestamp at time zone 'UTC'));
            created := created + 1;
        end if;
        m := (m + interval '1 month')::date;
    end loop;
    return created;
end $$;

-- Two years back (history imports) and six months ahead; the collector keeps extending.
select reading_ensure_partitions(now() - interval '24 months', now() + interval '6 months');

-- One row per meter and local (Europe/Warsaw) day: feeds charts, billing and reports.
create table reading_daily (
    meter_id        bigint not null references meter,
    day             date not null,
    first_read_at   timestamptz not null,
    last_read_at    timestamptz not null,
    first_volume_ml bigint not null check (first_volume_ml >= 0),
    last_volume_ml  bigint not null check (last_volume_ml >= 0),
    consumption_ml  bigint not null check (consumption_ml >= 0),
    min_hourly_ml   bigint check (min_hourly_ml >= 0),
    reading_count   int not null check (reading_count > 0),
    quality         smallint not null default 0,
    primary key (meter_id, day)
);

-- Alarms from status bits, telemetry and rules. At most one open alarm per (meter, kind):
-- a repeat raises count and last_seen_at instead of a new row.
create table alarm (
    alarm_id     bigint generated always as identity primary key,
    meter_id     bigint references meter,
    district_id  bigint references district,
    kind         text not null check (kind in
                   ('leak', 'burst', 'backflow', 'tamper', 'dry', 'battery_low', 'suspected_leak',
                    'night_flow', 'no_data', 'reverse_flow', 'implausible', 'stuck', 'clock')),
    severity     text not null default 'warning' check (severity in ('info', 'warning', 'critical')),
    state        text not null default 'open'
                 check (state in ('open', 'acknowledged', 'assigned', 'resolved', 'cleared')),
    source       text not null,
    opened_at    timestamptz not null,
    last_seen_at timestamptz not null,
    cleared_at   timestamptz,
    occurrences  int not null default 1 check (occurrences > 0),
    assigned_to  text,
    details      jsonb not null default '{}'::jsonb,
    check (meter_id is not null or district_id is not null)
);
create unique index alarm_one_open_per_meter on alarm (meter_id, kind)
    where state in ('open', 'acknowledged', 'assigned') and meter_id is not null;
create unique index alarm_one_open_per_district on alarm (district_id, kind)
    where state in ('open', 'acknowledged', 'assigned') and meter_id is null;
create index alarm_state on alarm (state, opened_at desc);

-- Input that could not be used (bad frame, unknown meter, malformed JSON, …), with the reason.
create table dead_letter (
    dead_letter_id bigint generated always as identity primary key,
    received_at    timestamptz not null default now(),
    source         text not null,
    payload        bytea not null,
    reason         text not null
);
