-- Schema v1, part 3: customers and money, owned by ewoda-billing.
-- Money is numeric(14,2) PLN; unit prices numeric(14,4); volumes numeric(14,3) m³ on
-- invoices (integer millilitres in the time series). Never floating point.

-- A customer (odbiorca): a person (household, PESEL when they have one), a business or a
-- public body (NIP). number is the customer number printed on invoices.
create table customer (
    customer_id     bigint generated always as identity primary key,
    number          text not null unique check (number ~ '^[0-9]{1,12}$'),
    kind            text not null check (kind in ('household', 'business', 'public', 'housing')),
    first_name      text,
    last_name       text,
    company_name    text,
    pesel           char(11) check (pesel_valid(pesel)),
    nip             char(10) check (nip_valid(nip)),
    email           text check (email is null or email ~ '^[^@\s]+@[^@\s]+\.[^@\s]+$'),
    phone           text check (phone is null or phone ~ '^\+?[0-9 ]{9,15}$'),
    einvoice        boolean not null default false,
    activation_code text,
    anonymised_at   timestamptz,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now(),
    check (kind <> 'household' or (last_name is not null and nip is null)),
    check (kind = 'household' or (company_name is not null and nip is not null))
);

create table address (
    address_id  bigint generated always as identity primary key,
    street      text not null,
    building    text not null,
    flat        text,
    postcode    char(6) not null check (postcode ~ '^[0-9]{2}-[0-9]{3}$'),
    city        text not null,
    commune     text not null,
    lat         numeric(9,6) check (lat between -90 and 90),
    lon         numeric(9,6) check (lon between -180 and 180)
);
create index address_street on address (city, street, building);

-- A place supplied with water: a house, a flat, a block, a business, a garden.
create table premises (
    premises_id  bigint generated always as identity primary key,
    address_id   bigint not null references address,
    kind         text not null check (kind in ('house', 'flat', 'block', 'business', 'garden', 'public')),
    district_id  bigint references district,
    org_unit_id  bigint references org_unit,
    persons      smallint check (persons >= 0),
    created_at   timestamptz not null default now()
);

-- Service connections (przyłącza) of a premises.
create table connection (
    connection_id bigint generated always as identity primary key,
    premises_id   bigint not null references premises,
    service       text not null check (service in ('water', 'sewage')),
    connected_on  date not null,
    diameter_mm   smallint check (diameter_mm > 0),
    disconnected_on date,
    check (disconnected_on is null or disconnected_on >= connected_on)
);

-- Meter installation history: where a meter hangs, from when to when, with the register at
-- installation and at removal. A sub-meter (garden) names its main meter; its volume is
-- deducted from sewage only.
create table meter_installation (
    installation_id bigint generated always as identity primary key,
    meter_id        bigint not null references meter,
    premises_id     bigint not null references premises,
    role            text not null check (role in ('main', 'sub', 'bulk')),
    parent_meter_id bigint references meter,
    installed_at    timestamptz not null,
    installed_read_ml bigint not null check (installed_read_ml >= 0),
    removed_at      timestamptz,
    removed_read_ml bigint check (removed_read_ml >= 0),
    seal_number     text,
    check ((removed_at is null) = (removed_read_ml is null)),
    check (removed_at is null or removed_at >= installed_at),
    check ((role = 'sub') = (parent_meter_id is not null))
);
create unique index meter_installation_one_current on meter_installation (meter_id)
    where removed_at is null;
create index meter_installation_premises on meter_installation (premises_id);

create table tariff_group (
    tariff_group_id bigint generated always as identity primary key,
    code            text not null unique,
    name            text not null,
    customer_kind   text not null check (customer_kind in ('household', 'business', 'public', 'housing'))
);

-- Prices valid from valid_from to valid_to (inclusive; open-ended when null). Versions of one
-- group never overlap (trigger below). Issued invoices keep their own copies of prices.
create table tariff_version (
    tariff_version_id bigint generated always as identity primary key,
    tariff_group_id   bigint not null references tariff_group,
    valid_from        date not null,
    valid_to          date,
    water_m3          numeric(14,4) not null check (water_m3 >= 0),
    sewage_m3         numeric(14,4) not null check (sewage_m3 >= 0),
    vat_percent       numeric(5,2) not null check (vat_percent >= 0 and vat_percent < 100),
    einvoice_discount numeric(14,2) not null default 0 check (einvoice_discount >= 0),
    norm_m3_per_person_month numeric(8,3) check (norm_m3_per_person_month >= 0),
    created_at        timestamptz not null default now(),
    check (valid_to is null or valid_to >= valid_from)
);

create function tariff_version_no_overlap() returns trigger
language plpgsql as $$
begin
    if exists (
        select 1 from tariff_version t
        where t.tariff_group_id = new.tariff_group_id
          and t.tariff_version_id <> new.tariff_version_id
          and daterange(t.valid_from, t.valid_to, '[]') && daterange(new.valid_from, new.valid_to, '[]')
    ) then
        raise exception 'tariff_version: validity % – % overlaps another version of group %',
            new.valid_from, coalesce(new.valid_to::text, 'open'), new.tariff_group_id
            using errcode = 'exclusion_violation';
    end if;
    return new;
end $$;
create trigger tariff_version_no_overlap before insert or update on tariff_version
    for each row execute function tariff_version_no_overlap();

create table tariff_fee (
    tariff_fee_id     bigint generated always as identity primary key,
    tariff_version_id bigint not null references tariff_version,
    name              text not null,
    amount            numeric(14,2) not null check (amount >= 0),
    per               text not null check (per in ('period', 'month')),
    unique (tariff_version_id, name)
);

create table contract (
    contract_id     bigint generated always as identity primary key,
    number          text not null unique,
    customer_id     bigint not null references customer,
    premises_id     bigint not null references premises,
    tariff_group_id bigint not null references tariff_group,
    water           boolean not null default true,
    sewage          boolean not null default true,
    billing_months  smallint not null default 1 check (billing_months in (1, 2, 3, 6, 12)),
    valid_from      date not null,
    valid_to        date,
    created_at      timestamptz not null default now(),
    check (valid_to is null or valid_to >= valid_from)
);
create index contract_customer on contract (customer_id);

-- Individual (virtual) bank account of a customer: settlement number + client prefix +
-- zero-padded customer number, with the mod-97 check digits.
create table virtual_account (
    customer_id bigint primary key references customer,
    iban        char(28) not null unique check (iban_valid(iban)),
    created_at  timestamptz not null default now()
);

create table billing_run (
    billing_run_id bigint generated always as identity primary key,
    period_from    date not null,
    period_to      date not null,
    area           text,
    state          text not null default 'preview' check (state in ('preview', 'approved', 'issued')),
    created_at     timestamptz not null default now(),
    approved_at    timestamptz,
    issued_at      timestamptz,
    check (period_to >= period_from)
);

-- Gap-free numbering: one counter row per series and year, taken with a row lock inside the
-- issuing transaction, so concurrent runs neither skip nor reuse a number.
create table invoice_series (
    series      text not null,
    year        int not null check (year between 2000 and 2999),
    last_number int not null default 0 check (last_number >= 0),
    primary key (series, year)
);

create table invoice (
    invoice_id        bigint generated always as identity primary key,
    number            text not null unique,
    series            text not null,
    year              int not null,
    seq               int not null check (seq > 0),
    kind              text not null check (kind in ('VAT', 'KOR')),
    corrects_invoice_id bigint references invoice,
    correction_reason text,
    customer_id       bigint not null references customer,
    contract_id       bigint references contract,
    billing_run_id    bigint references billing_run,
    period_from       date not null,
    period_to         date not null,
    issued_on         date not null,
    due_on            date not null,
    net               numeric(14,2) not null,
    vat               numeric(14,2) not null,
    gross             numeric(14,2) not null,
    estimated         boolean not null default false,
    ksef_number       text,
    created_at        timestamptz not null default now(),
    unique (series, year, seq),
    check (gross = net + vat),
    check ((kind = 'KOR') = (corrects_invoice_id is not null)),
    check (due_on >= issued_on)
);
create index invoice_customer on invoice (customer_id, issued_on);
create unique index invoice_once_per_run on invoice (billing_run_id, contract_id)
    where kind = 'VAT' and billing_run_id is not null;

create table invoice_line (
    invoice_line_id bigint generated always as identity primary key,
    invoice_id      bigint not null references invoice,
    position        int not null check (position > 0),
    item            text not null,
    period_from     date not null,
    period_to       date not null,
    quantity        numeric(14,3) not null,
    unit            text not null,
    unit_price      numeric(14,4) not null,
    net             numeric(14,2) not null,
    vat_percent     numeric(5,2) not null,
    estimated       boolean not null default false,
    unique (invoice_id, position)
);

-- Payments as received (bank statement lines, online payments, cash). Idempotent per bank
-- reference; unmatched ones (customer_id null) wait for a clerk.
create table payment (
    payment_id     bigint generated always as identity primary key,
    source         text not null check (source in ('mt940', 'csv', 'online', 'cash', 'manual')),
    bank_reference text not null,
    amount         numeric(14,2) not null check (amount > 0),
    currency       char(3) not null default 'PLN' check (currency = 'PLN'),
    booked_on      date not null,
    payer_name     text,
    payer_account  text,
    title          text,
    to_account     char(28),
    customer_id    bigint references customer,
    matched_by     text check (matched_by in ('virtual_account', 'invoice_number', 'clerk', 'online')),
    created_at     timestamptz not null default now(),
    unique (source, bank_reference)
);
create index payment_unmatched on payment (booked_on) where customer_id is null;

create table payment_allocation (
    payment_id bigint not null references payment,
    invoice_id bigint not null references invoice,
    amount     numeric(14,2) not null check (amount > 0),
    primary key (payment_id, invoice_id)
);

-- Reminders (wezwanie do zapłaty) and interest notes (nota odsetkowa).
create table dunning_notice (
    dunning_notice_id bigint generated always as identity primary key,
    number        text not null unique,
    customer_id   bigint not null references customer,
    kind          text not null check (kind in ('reminder', 'interest_note')),
    level         smallint not null default 1 check (level > 0),
    issued_on     date not null,
    principal     numeric(14,2) not null check (principal >= 0),
    interest      numeric(14,2) not null default 0 check (interest >= 0),
    compensation_eur numeric(8,2),
    compensation_pln numeric(14,2),
    details       jsonb not null default '{}'::jsonb,
    created_at    timestamptz not null default now()
);

-- Overpayment refunds, exported to the bank as Elixir-0 transfers.
create table refund (
    refund_id   bigint generated always as identity primary key,
    customer_id bigint not null references customer,
    amount      numeric(14,2) not null check (amount > 0),
    iban        char(28) not null check (iban_valid(iban)),
    payee_name  text not null,
    created_at  timestamptz not null default now(),
    exported_at timestamptz
);

-- The ledger: every charge, payment, correction, note and refund is one immutable posting.
-- amount > 0 increases what the customer owes; amount < 0 decreases it. A balance is a sum.
create table ledger_posting (
    posting_id   bigint generated always as identity primary key,
    customer_id  bigint not null references customer,
    posted_at    timestamptz not null default now(),
    value_date   date not null,
    kind         text not null check (kind in
                   ('charge', 'correction', 'payment', 'interest', 'refund', 'credit_transfer', 'write_off')),
    amount       numeric(14,2) not null check (amount <> 0),
    invoice_id   bigint references invoice,
    payment_id   bigint references payment,
    dunning_notice_id bigint references dunning_notice,
    refund_id    bigint references refund,
    description  text not null
);
create index ledger_posting_customer on ledger_posting (customer_id, value_date);
create trigger ledger_posting_append_only before update or delete on ledger_posting
    for each row execute function forbid_change();

-- Statutory interest rates as data: 'household' (odsetki ustawowe za opóźnienie) and
-- 'business' (odsetki za opóźnienie w transakcjach handlowych), each from a date.
create table statutory_rate (
    debtor_kind  text not null check (debtor_kind in ('household', 'business')),
    valid_from   date not null,
    rate_percent numeric(6,3) not null check (rate_percent >= 0),
    primary key (debtor_kind, valid_from)
);

-- NBP mid exchange rates (table A) for the EUR compensation.
create table exchange_rate (
    currency  char(3) not null,
    day       date not null,
    mid       numeric(10,4) not null check (mid > 0),
    primary key (currency, day)
);
