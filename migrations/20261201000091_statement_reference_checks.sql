-- Set-based reference checks for the tables a billing run fills in bulk (issue 8). A foreign
-- key checks every inserted row on its own (one lookup and row lock per row: about 60 % of
-- posting 600,000 invoice lines); these checks verify all rows of a statement in one
-- anti-join. They replace the foreign keys whose parent rows are records that are never
-- removed nor re-keyed — invoices, billing runs, stored proposals, customers (anonymised in
-- place) and contracts (ended by valid_to), which the triggers at the end of this file keep
-- so — and whose references do not change once written; so a row checked once stays valid:
-- integrity is enforced as before, with the same error (SQLSTATE 23503, the constraint's name).

-- After a statement that inserted or updated rows (transition table new_rows): every row
-- whose key columns are all non-null references an existing parent row (MATCH SIMPLE).
-- Arguments: constraint name, parent table, child columns, parent columns (comma lists).
create function check_reference() returns trigger
language plpgsql as $$
declare
    child_cols  text[] := string_to_array(tg_argv[2], ',');
    parent_cols text[] := string_to_array(tg_argv[3], ',');
    matches     text;
    not_null    text;
    key         text;
    missing     text;
begin
    select string_agg(format('p.%I = n.%I', parent_cols[i], child_cols[i]), ' and '),
           string_agg(format('n.%I is not null', child_cols[i]), ' and '),
           string_agg(format('n.%I', child_cols[i]), ', ')
      into matches, not_null, key
      from generate_subscripts(child_cols, 1) as i;
    execute format(
        'select row(%s)::text from new_rows n
         where %s and not exists (select 1 from %I p where %s) limit 1',
        key, not_null, tg_argv[1], matches)
      into missing;
    if missing is not null then
        raise foreign_key_violation using
            message = format('insert or update on table "%s" violates foreign key constraint "%s"',
                             tg_table_name, tg_argv[0]),
            detail = format('Key (%s)=%s is not present in table "%s".',
                            tg_argv[2], missing, tg_argv[1]),
            constraint = tg_argv[0], table = tg_table_name, schema = tg_table_schema;
    end if;
    return null;
end $$;

-- Refuses what would remove a record or change a key or reference that must stay.
create function keep_row() returns trigger
language plpgsql as $$
begin
    raise exception '% rows are never removed nor re-keyed: % is not allowed', tg_table_name, tg_op
        using errcode = 'check_violation';
end $$;

-- invoice: customer, contract, billing run and corrected invoice; an invoice's references
-- never change (only its KSeF number is written later).
alter table invoice drop constraint invoice_customer_id_fkey;
alter table invoice drop constraint invoice_contract_id_fkey;
alter table invoice drop constraint invoice_billing_run_id_fkey;
alter table invoice drop constraint invoice_corrects_invoice_id_fkey;
create trigger invoice_customer_id_fkey after insert on invoice
    referencing new table as new_rows for each statement
    execute function check_reference('invoice_customer_id_fkey', 'customer', 'customer_id', 'customer_id');
create trigger invoice_contract_id_fkey after insert on invoice
    referencing new table as new_rows for each statement
    execute function check_reference('invoice_contract_id_fkey', 'contract', 'contract_id', 'contract_id');
create trigger invoice_billing_run_id_fkey after insert on invoice
    referencing new table as new_rows for each statement
    execute function check_reference('invoice_billing_run_id_fkey', 'billing_run', 'billing_run_id', 'billing_run_id');
create trigger invoice_corrects_invoice_id_fkey after insert on invoice
    referencing new table as new_rows for each statement
    execute function check_reference('invoice_corrects_invoice_id_fkey', 'invoice', 'corrects_invoice_id', 'invoice_id');
create trigger invoice_references_kept
    before update of invoice_id, customer_id, contract_id, billing_run_id, corrects_invoice_id
    on invoice for each row
    when (new.invoice_id is distinct from old.invoice_id
          or new.customer_id is distinct from old.customer_id
          or new.contract_id is distinct from old.contract_id
          or new.billing_run_id is distinct from old.billing_run_id
          or new.corrects_invoice_id is distinct from old.corrects_invoice_id)
    execute function keep_row();

-- The invoice's rows: lines, VAT rows (append-only), reads, ledger postings (append-only).
alter table invoice_line drop constraint invoice_line_invoice_id_fkey;
create trigger invoice_line_invoice_id_fkey after insert on invoice_line
    referencing new table as new_rows for each statement
    execute function check_reference('invoice_line_invoice_id_fkey', 'invoice', 'invoice_id', 'invoice_id');
create trigger invoice_line_invoice_id_fkey_upd after update on invoice_line
    referencing new table as new_rows for each statement
    execute function check_reference('invoice_line_invoice_id_fkey', 'invoice', 'invoice_id', 'invoice_id');

alter table invoice_vat drop constraint invoice_vat_invoice_id_fkey;
create trigger invoice_vat_invoice_id_fkey after insert on invoice_vat
    referencing new table as new_rows for each statement
    execute function check_reference('invoice_vat_invoice_id_fkey', 'invoice', 'invoice_id', 'invoice_id');

alter table invoice_read drop constraint invoice_read_invoice_id_fkey;
create trigger invoice_read_invoice_id_fkey after insert on invoice_read
    referencing new table as new_rows for each statement
    execute function check_reference('invoice_read_invoice_id_fkey', 'invoice', 'invoice_id', 'invoice_id');
create trigger invoice_read_invoice_id_fkey_upd after update on invoice_read
    referencing new table as new_rows for each statement
    execute function check_reference('invoice_read_invoice_id_fkey', 'invoice', 'invoice_id', 'invoice_id');

alter table ledger_posting drop constraint ledger_posting_invoice_id_fkey;
alter table ledger_posting drop constraint ledger_posting_customer_id_fkey;
create trigger ledger_posting_invoice_id_fkey after insert on ledger_posting
    referencing new table as new_rows for each statement
    execute function check_reference('ledger_posting_invoice_id_fkey', 'invoice', 'invoice_id', 'invoice_id');
create trigger ledger_posting_customer_id_fkey after insert on ledger_posting
    referencing new table as new_rows for each statement
    execute function check_reference('ledger_posting_customer_id_fkey', 'customer', 'customer_id', 'customer_id');

-- run_proposal: its run, contract and customer never change; issue writes its invoice.
alter table run_proposal drop constraint run_proposal_invoice_id_fkey;
alter table run_proposal drop constraint run_proposal_billing_run_id_fkey;
alter table run_proposal drop constraint run_proposal_contract_id_fkey;
alter table run_proposal drop constraint run_proposal_customer_id_fkey;
create trigger run_proposal_invoice_id_fkey after insert on run_proposal
    referencing new table as new_rows for each statement
    execute function check_reference('run_proposal_invoice_id_fkey', 'invoice', 'invoice_id', 'invoice_id');
create trigger run_proposal_invoice_id_fkey_upd after update on run_proposal
    referencing new table as new_rows for each statement
    execute function check_reference('run_proposal_invoice_id_fkey', 'invoice', 'invoice_id', 'invoice_id');
create trigger run_proposal_billing_run_id_fkey after insert on run_proposal
    referencing new table as new_rows for each statement
    execute function check_reference('run_proposal_billing_run_id_fkey', 'billing_run', 'billing_run_id', 'billing_run_id');
create trigger run_proposal_contract_id_fkey after insert on run_proposal
    referencing new table as new_rows for each statement
    execute function check_reference('run_proposal_contract_id_fkey', 'contract', 'contract_id', 'contract_id');
create trigger run_proposal_customer_id_fkey after insert on run_proposal
    referencing new table as new_rows for each statement
    execute function check_reference('run_proposal_customer_id_fkey', 'customer', 'customer_id', 'customer_id');
create trigger run_proposal_references_kept
    before update of billing_run_id, contract_id, customer_id on run_proposal for each row
    when (new.billing_run_id is distinct from old.billing_run_id
          or new.contract_id is distinct from old.contract_id
          or new.customer_id is distinct from old.customer_id)
    execute function keep_row();

alter table run_proposal_quote drop constraint run_proposal_quote_billing_run_id_contract_id_fkey;
create trigger run_proposal_quote_run_proposal_fkey after insert on run_proposal_quote
    referencing new table as new_rows for each statement
    execute function check_reference('run_proposal_quote_run_proposal_fkey', 'run_proposal',
                                     'billing_run_id,contract_id', 'billing_run_id,contract_id');
create trigger run_proposal_quote_run_proposal_fkey_upd after update on run_proposal_quote
    referencing new table as new_rows for each statement
    execute function check_reference('run_proposal_quote_run_proposal_fkey', 'run_proposal',
                                     'billing_run_id,contract_id', 'billing_run_id,contract_id');

-- The parents are never removed nor re-keyed, so what referenced them keeps referencing them.
create trigger invoice_kept before delete on invoice
    for each row execute function keep_row();
create trigger invoice_not_truncated before truncate on invoice
    for each statement execute function keep_row();

create trigger billing_run_kept before delete on billing_run
    for each row execute function keep_row();
create trigger billing_run_not_truncated before truncate on billing_run
    for each statement execute function keep_row();
create trigger billing_run_key_kept before update of billing_run_id on billing_run
    for each row when (new.billing_run_id is distinct from old.billing_run_id)
    execute function keep_row();

create trigger run_proposal_kept before delete on run_proposal
    for each row execute function keep_row();
create trigger run_proposal_not_truncated before truncate on run_proposal
    for each statement execute function keep_row();

create trigger customer_kept before delete on customer
    for each row execute function keep_row();
create trigger customer_not_truncated before truncate on customer
    for each statement execute function keep_row();
create trigger customer_key_kept before update of customer_id on customer
    for each row when (new.customer_id is distinct from old.customer_id)
    execute function keep_row();

create trigger contract_kept before delete on contract
    for each row execute function keep_row();
create trigger contract_not_truncated before truncate on contract
    for each statement execute function keep_row();
create trigger contract_key_kept before update of contract_id on contract
    for each row when (new.contract_id is distinct from old.contract_id)
    execute function keep_row();
