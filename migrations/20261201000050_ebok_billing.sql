-- eBOK data of billing: stored invoice PDFs (rendered once, then served from here), the open
-- items an online payment covers, and documents offered to a customer for download
-- (contracts, annexes and other papers that are not invoices or notices).

create table invoice_pdf (
    invoice_id  bigint primary key references invoice,
    pdf         bytea not null check (length(pdf) > 0),
    sha256      char(64) not null,
    rendered_at timestamptz not null default now()
);

-- The items one online payment was started for (online_transaction keeps the first as its
-- invoice_id, which the allocation fills first).
create table online_transaction_item (
    session_id text not null references online_transaction,
    invoice_id bigint not null references invoice,
    amount     numeric(14,2) not null check (amount > 0),
    primary key (session_id, invoice_id)
);

create table customer_document (
    customer_document_id bigint generated always as identity primary key,
    customer_id  bigint not null references customer,
    contract_id  bigint references contract,
    kind         text not null check (kind in ('contract', 'annex', 'other')),
    title        text not null check (length(title) between 1 and 200),
    filename     text not null check (length(filename) between 1 and 200),
    content_type text not null check (content_type in ('application/pdf', 'image/jpeg', 'image/png')),
    data         bytea not null check (length(data) > 0),
    issued_on    date not null,
    created_at   timestamptz not null default now()
);
create index customer_document_customer on customer_document (customer_id, issued_on);
