-- A returned credit (RC/RD) reported in two statements of one account (the monthly statement
-- repeating the daily ones) is the same return: like payment.credit_key, credit_key hashes the
-- whole entry without the statement's number, and statement_number says which statement
-- stored it, so an import recognises a return stored from another statement instead of
-- storing (and queueing) a second one. Returns stored before have none.
alter table payment_reversal add column credit_key text, add column statement_number text;
create index payment_reversal_credit_key on payment_reversal (statement_account, credit_key)
    where credit_key is not null;
