-- Statement lines keep their whole identity (issue 9): a credit is its entry in its statement
-- (account, statement number, dates, amount, references, details), hashed into entry_key and
-- stored once by a unique constraint. The bank reference alone is not unique (banks repeat it,
-- or write NONREF), so the old (source, bank_reference) key stays only for online, cash and
-- manual payments. A line that looks like an entry already stored from another statement
-- (same account, date, amount and reference: loose_key) waits for a clerk instead of posting.
alter table payment drop constraint payment_source_bank_reference_key;
create unique index payment_source_reference on payment (source, bank_reference)
    where source not in ('mt940', 'csv');
alter table payment
    add column entry_key text unique,
    add column loose_key text,
    add column statement_account text,
    add column statement_number text,
    add column value_date date,
    add column customer_reference text,
    add column warnings text[] not null default '{}',
    add column review text check (review in ('possible_duplicate')),
    add column duplicate_of bigint references payment,
    add column dismissed_at timestamptz,
    add column dismissed_by text,
    add check (source not in ('mt940', 'csv') or entry_key is not null);
create index payment_loose_key on payment (loose_key) where loose_key is not null;

-- The utility's own bank accounts besides its collection account: a statement (:25:) for any
-- other account is skipped and reported.
create table utility_bank_account (
    iban       char(28) primary key check (iban_valid(iban)),
    name       text,
    created_at timestamptz not null default now()
);

-- Returned and reversed credits (MT940 RC/RD, "zwrot"): stored once per statement entry, the
-- credit they reverse when it is found, and what was undone (the allocations removed, which
-- reopens the invoices). The ledger gets a 'reversal' posting; the clerk reviews each one.
create table payment_reversal (
    payment_reversal_id bigint generated always as identity primary key,
    entry_key      text not null unique,
    source         text not null check (source in ('mt940', 'csv')),
    mark           text not null check (mark in ('RC', 'RD')),
    bank_reference text not null,
    amount         numeric(14,2) not null check (amount > 0),
    booked_on      date not null,
    statement_account text,
    payer_name     text,
    payer_account  text,
    title          text,
    payment_id     bigint unique references payment,
    customer_id    bigint references customer,
    undone         jsonb not null default '[]'::jsonb,
    reviewed_at    timestamptz,
    reviewed_by    text,
    created_at     timestamptz not null default now()
);

alter table ledger_posting drop constraint ledger_posting_kind_check;
alter table ledger_posting add constraint ledger_posting_kind_check check (kind in
    ('charge', 'correction', 'payment', 'interest', 'refund', 'credit_transfer', 'write_off',
     'reversal'));
