-- The same credit reported in two statements of one account (banks send daily statements and
-- a monthly one repeating them): credit_key hashes the whole entry without the statement's
-- number, so an import recognises a credit already stored from another statement instead of
-- queueing it as a possible duplicate. Payments stored before this migration have none and
-- are recognised by the looser loose_key only (queued for a clerk, as before).
alter table payment add column credit_key text;
create index payment_credit_key on payment (statement_account, credit_key)
    where credit_key is not null;
