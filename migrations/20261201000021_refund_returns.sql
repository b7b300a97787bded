-- A reversed debit (MT940 RD) is usually a refund the payee's bank sent back ("zwrot"): the
-- reversal names the refund it undoes, once.
alter table payment_reversal add column refund_id bigint unique references refund;
