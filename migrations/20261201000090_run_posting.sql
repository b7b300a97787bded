-- Issue posts a stored preview set-based on the server (issue 8): each proposal's quote, reads
-- and VAT rows move out of run_proposal into run_proposal_quote, written once by the preview
-- and only read by issue, so recording an outcome on run_proposal (invoice_id, refused)
-- rewrites a narrow row, not one carrying the documents.
create table run_proposal_quote (
    billing_run_id bigint not null,
    contract_id    bigint not null,
    -- The quote as priced (lines and totals), as `crate::quote::Quote` serialises it.
    quote          jsonb not null,
    -- Per meter, the reads the volume runs between, each with its `estimated` flag.
    reads          jsonb not null,
    -- The invoice's VAT rows as `invoice::vat` computes them: [{vat_percent, net, vat}].
    vat_rows       jsonb not null,
    primary key (billing_run_id, contract_id),
    foreign key (billing_run_id, contract_id) references run_proposal
);

-- Proposals stored before: their reads get the flag (what `ReadSource::estimated` says), their
-- VAT rows the rule of migration 031 (one rate takes the totals, several their net sums and
-- the VAT on each, half away from zero — the same as half-up on these positive sums).
insert into run_proposal_quote (billing_run_id, contract_id, quote, reads, vat_rows)
select p.billing_run_id, p.contract_id, p.quote,
       coalesce((select jsonb_agg(m || jsonb_build_object(
                     'opening', (m->'opening') || jsonb_build_object('estimated',
                         m->'opening'->>'source' in ('run_estimate', 'estimate')),
                     'closing', (m->'closing') || jsonb_build_object('estimated',
                         m->'closing'->>'source' in ('run_estimate', 'estimate')))
                     order by k)
                 from jsonb_array_elements(p.reads) with ordinality as r(m, k)), '[]'::jsonb),
       coalesce((select jsonb_agg(jsonb_build_object(
                     'vat_percent', v.rate,
                     'net', case when v.rates = 1 then p.net else v.net end,
                     'vat', case when v.rates = 1 then p.vat else round(v.net * v.rate / 100, 2) end)
                     order by v.rate)
                 from (select (l->>'vat_percent')::numeric as rate, sum((l->>'net')::numeric) as net,
                              count(*) over () as rates
                       from jsonb_array_elements(p.quote->'lines') l
                       group by 1) v), '[]'::jsonb)
from run_proposal p;

alter table run_proposal drop column quote, drop column reads;

-- Issue records each proposal's invoice: with room left on each page the update stays on the
-- page (a HOT update, no new index entry).
alter table run_proposal set (fillfactor = 50);
