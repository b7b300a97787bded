-- NBP reference rates (stopa referencyjna) imported with `ewoda rates import`; interest merges
-- them over the table embedded in billing/data/. The NBP table number of each mid rate.
create table reference_rate (
    valid_from   date primary key,
    rate_percent numeric(5,2) not null check (rate_percent >= 0),
    created_at   timestamptz not null default now()
);

alter table exchange_rate add column table_no text;
