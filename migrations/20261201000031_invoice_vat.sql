-- VAT per rate of each invoice, written when it is issued; a correction's rows are the
-- differences to the stored rows before it, so they sum exactly to its totals.
create table invoice_vat (
    invoice_id  bigint not null references invoice,
    vat_percent numeric(5,2) not null,
    net         numeric(14,2) not null,
    vat         numeric(14,2) not null,
    primary key (invoice_id, vat_percent)
);
create trigger invoice_vat_append_only before update or delete on invoice_vat
    for each row execute function forbid_change();

-- Invoices issued before this table: a single rate takes the invoice's totals; several rates
-- each take their net sum and VAT on it (round() on numeric rounds half away from zero).
insert into invoice_vat (invoice_id, vat_percent, net, vat)
select l.invoice_id, l.vat_percent,
       case when count(*) over w = 1 then max(i.net) else sum(l.net) end,
       case when count(*) over w = 1 then max(i.vat)
            else round(sum(l.net) * l.vat_percent / 100, 2) end
from invoice_line l join invoice i using (invoice_id)
group by l.invoice_id, l.vat_percent
window w as (partition by l.invoice_id);
