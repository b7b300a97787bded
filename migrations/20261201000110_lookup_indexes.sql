-- Indexes for the lookups every eBOK page makes (measured with `ewoda bench portal`: each
-- was a sequential scan of its whole table per request):
-- the corrections of an invoice (the ledger's open amount, for every invoice shown);
create index invoice_corrects on invoice (corrects_invoice_id) where corrects_invoice_id is not null;
-- the payments allocated to an invoice (the primary key leads with the payment);
create index payment_allocation_invoice on payment_allocation (invoice_id);
-- the contracts of a premises (a customer's scope);
create index contract_premises on contract (premises_id);
-- a meter's alarms.
create index alarm_meter on alarm (meter_id, opened_at desc) where meter_id is not null;
