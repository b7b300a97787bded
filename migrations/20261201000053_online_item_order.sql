-- The order in which the customer chose the items of an online payment: the payment is
-- allocated to them in that order.
alter table online_transaction_item add column position smallint not null default 0
    check (position >= 0);
