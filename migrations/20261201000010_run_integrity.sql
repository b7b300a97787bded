-- Billing-run integrity (issue 8): one sales invoice per contract and period whatever the
-- runs, the reads each invoice stands on (the read chain), and stored previews that approval
-- freezes and issue posts.

-- Backs the in-transaction re-check: a second run can never post the same contract's period.
create unique index invoice_once_per_contract_period
    on invoice (contract_id, period_from, period_to)
    where kind = 'VAT' and contract_id is not null;

-- Per invoice (sales or correction) and meter, the reads its volume runs between. The next
-- period of the meter opens at the closing read of its latest invoice.
create table invoice_read (
    invoice_id        bigint not null references invoice,
    meter_id          bigint not null references meter,
    role              text not null check (role in ('main', 'sub')),
    opening_at        timestamptz not null,
    opening_ml        bigint not null check (opening_ml >= 0),
    opening_source    text not null,
    opening_estimated boolean not null,
    closing_at        timestamptz not null,
    closing_ml        bigint not null check (closing_ml >= 0),
    closing_source    text not null,
    closing_estimated boolean not null,
    primary key (invoice_id, meter_id),
    check (closing_at > opening_at)
);
create index invoice_read_meter on invoice_read (meter_id);

-- A preview's proposals as priced: the quote (lines and totals), the reads, and a fingerprint
-- of the input (contract, tariff, reads, history) that issue compares against the data then.
create table run_proposal (
    billing_run_id bigint not null references billing_run,
    contract_id    bigint not null references contract,
    contract_number text not null,
    customer_id    bigint not null references customer,
    period_from    date not null,
    period_to      date not null,
    basis          text not null check (basis in ('measured', 'estimated', 'norm')),
    quote          jsonb not null,
    reads          jsonb not null,
    net            numeric(14,2) not null,
    vat            numeric(14,2) not null,
    gross          numeric(14,2) not null,
    fingerprint    text not null,
    invoice_id     bigint references invoice,
    refused        text,
    primary key (billing_run_id, contract_id),
    check (gross = net + vat)
);

-- The preview's exceptions, for the clerk who approves it.
create table run_exception (
    billing_run_id  bigint not null references billing_run,
    contract_id     bigint not null references contract,
    contract_number text not null,
    customer_id     bigint not null references customer,
    kind            text not null,
    message         text not null
);
create index run_exception_run on run_exception (billing_run_id);
