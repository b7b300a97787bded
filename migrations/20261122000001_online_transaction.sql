-- Online payments (billing): every transaction registered with the payment operator, so a
-- notification is checked against what was registered, on any portal instance, even after a
-- restart.
create table online_transaction (
    session_id  text primary key check (length(session_id) between 1 and 100),
    customer_id bigint not null references customer,
    invoice_id  bigint references invoice,
    amount      numeric(14,2) not null check (amount > 0),
    currency    char(3) not null default 'PLN' check (currency = 'PLN'),
    description text not null,
    token       text,
    status      text not null default 'registering'
                check (status in ('registering', 'registered', 'failed', 'paid')),
    payment_id  bigint references payment,
    created_at  timestamptz not null default now(),
    updated_at  timestamptz not null default now()
);
