-- Schema v1, part 1: cross-cutting tables owned by ewoda-common.
-- utility, org_unit, notification_outbox, audit_log and the validation functions
-- that the other parts use in CHECK constraints.

-- PESEL: 11 digits, weights 1,3,7,9 repeated, check digit (10 - sum mod 10) mod 10,
-- and an encoded date of birth that exists (month offset by century).
create function pesel_valid(p text) returns boolean
language plpgsql immutable strict as $$
declare
    w int[] := array[1,3,7,9,1,3,7,9,1,3];
    s int := 0;
    yy int; mm int; dd int; century int;
begin
    if p !~ '^[0-9]{11}$' then
        return false;
    end if;
    for i in 1..10 loop
        s := s + w[i] * substr(p, i, 1)::int;
    end loop;
    if (10 - s % 10) % 10 <> substr(p, 11, 1)::int then
        return false;
    end if;
    yy := substr(p, 1, 2)::int;
    mm := substr(p, 3, 2)::int;
    dd := substr(p, 5, 2)::int;
    century := case
        when mm between 81 and 92 then 1800
        when mm between 1 and 12 then 1900
        when mm between 21 and 32 then 2000
        when mm between 41 and 52 then 2100
        when mm between 61 and 72 then 2200
        else null end;
    if century is null then
        return false;
    end if;
    mm := mm % 20;
    begin
        perform make_date(century + yy, mm, dd);
    exception when others then
        return false;
    end;
    return true;
end $$;

-- NIP: 10 digits, weights 6,5,7,2,3,4,5,6,7; sum mod 11 equals the last digit (never 10).
create function nip_valid(n text) returns boolean
language plpgsql immutable strict as $$
declare
    w int[] := array[6,5,7,2,3,4,5,6,7];
    s int := 0;
begin
    if n !~ '^[0-9]{10}$' then
        return false;
    end if;
    for i in 1..9 loop
        s := s + w[i] * substr(n, i, 1)::int;
    end loop;
    return s % 11 <> 10 and s % 11 = substr(n, 10, 1)::int;
end $$;

-- IBAN (electronic form, no spaces): ISO 13616 mod-97 = 1. Polish IBANs are PL + 26 digits.
create function iban_valid(iban text) returns boolean
language plpgsql immutable strict as $$
declare
    rearranged text;
    digits text := '';
    ch text;
    remainder int := 0;
begin
    if iban !~ '^[A-Z]{2}[0-9]{2}[A-Z0-9]{10,30}$' then
        return false;
    end if;
    if left(iban, 2) = 'PL' and length(iban) <> 28 then
        return false;
    end if;
    rearranged := substr(iban, 5) || left(iban, 4);
    for i in 1..length(rearranged) loop
        ch := substr(rearranged, i, 1);
        if ch ~ '[A-Z]' then
            digits := digits || (ascii(ch) - 55)::text;
        else
            digits := digits || ch;
        end if;
    end loop;
    for i in 1..length(digits) loop
        remainder := (remainder * 10 + substr(digits, i, 1)::int) % 97;
    end loop;
    return remainder = 1;
end $$;

-- The water company itself: seller data on invoices, bank settlement data for virtual accounts.
create table utility (
    utility_id      bigint generated always as identity primary key,
    name            text not null,
    short_name      text not null,
    nip             char(10) not null check (nip_valid(nip)),
    regon           text,
    street          text not null,
    postcode        char(6) not null check (postcode ~ '^[0-9]{2}-[0-9]{3}$'),
    city            text not null,
    bank_name       text not null,
    settlement_number char(8) not null check (settlement_number ~ '^[0-9]{8}$'),
    account_prefix  text not null check (account_prefix ~ '^[0-9]{0,15}$'),
    collection_iban char(28) not null check (iban_valid(collection_iban)),
    email           text,
    phone           text,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now()
);

-- Organisational units (departments, field teams) that own cases, routes and users.
create table org_unit (
    org_unit_id bigint generated always as identity primary key,
    utility_id  bigint not null references utility,
    parent_id   bigint references org_unit,
    code        text not null unique,
    name        text not null,
    created_at  timestamptz not null default now()
);

-- Every outgoing notification (email, SMS, Web Push) is first a row here, written in the same
-- transaction as the change that caused it; workers deliver and retry.
create table notification_outbox (
    notification_id bigint generated always as identity primary key,
    created_at      timestamptz not null default now(),
    topic           text not null,
    channel         text not null check (channel in ('email', 'sms', 'push', 'console')),
    customer_id     bigint,
    recipient       text,
    template        text not null,
    locale          text not null default 'pl' check (locale in ('pl', 'en')),
    payload         jsonb not null default '{}'::jsonb,
    dedup_key       text unique,
    status          text not null default 'pending'
                    check (status in ('pending', 'sending', 'sent', 'failed', 'skipped')),
    attempts        int not null default 0 check (attempts >= 0),
    next_attempt_at timestamptz not null default now(),
    sent_at         timestamptz,
    last_error      text
);
create index notification_outbox_pending on notification_outbox (next_attempt_at)
    where status = 'pending';

-- Who changed what, when, with the row before and after. Append-only.
create table audit_log (
    audit_id    bigint generated always as identity primary key,
    at          timestamptz not null default now(),
    actor       text not null,
    action      text not null check (action in ('insert', 'update', 'delete', 'login', 'export', 'anonymise')),
    entity      text not null,
    entity_id   text not null,
    before      jsonb,
    after       jsonb
);
create index audit_log_entity on audit_log (entity, entity_id, at);

-- Rows of append-only tables are never changed or removed.
create function forbid_change() returns trigger
language plpgsql as $$
begin
    raise exception '% is append-only: % is not allowed', tg_table_name, tg_op
        using errcode = 'check_violation';
end $$;

create trigger audit_log_append_only before update or delete on audit_log
    for each row execute function forbid_change();
