-- The browser suite's utility: master data only, the part no ewoda command creates (the demo
-- seed writes the same tables in bulk). Readings, invoices, the correction, the bank payment
-- and the leak alarm are then produced by the real commands (run.mjs: `ewoda collect
-- --import`, `ewoda bill`, `ewoda payments import`). Dates are relative to today, so the
-- history is always "the last year".
--
--   customer 1001 Anna Nowak: a house with a main meter and a garden sub-meter, a contract
--     with its PDF in the documents;
--   customer 1002 Jan Kowalski: a flat with one meter (the other customer of the
--     isolation checks).

insert into utility (name, short_name, nip, regon, street, postcode, city, bank_name,
                     settlement_number, account_prefix, collection_iban, email, phone)
values ('Zakład Wodociągów i Kanalizacji w Przykładowie Sp. z o.o.', 'ZWiK Przykładowo',
        '7711002238', '012345678', 'ul. Rynek 1', '00-001', 'Przykładowo',
        'Santander Bank Polska S.A.', '10901014', '1234', 'PL61109010140000071219812874',
        'bok@zwik.przykladowo.example', '+48 22 100 20 30');
insert into org_unit (utility_id, code, name)
select utility_id, 'BOK', 'Biuro Obsługi Klienta' from utility;
insert into district (code, name) values ('D1', 'Centrum');

insert into address (street, building, flat, postcode, city, commune) values
  ('ul. Lipowa', '7', null, '00-001', 'Przykładowo', 'Przykładowo'),
  ('ul. Klonowa', '12', '3', '00-001', 'Przykładowo', 'Przykładowo');
insert into premises (address_id, kind, district_id, persons)
select address_id, case when flat is null then 'house' else 'flat' end,
       (select district_id from district where code = 'D1'), 3
from address;

insert into customer (number, kind, first_name, last_name, email, phone, activation_code) values
  ('1001', 'household', 'Anna', 'Nowak', 'anna@example.pl', '+48 600 100 200', 'ACT1001X'),
  ('1002', 'household', 'Jan', 'Kowalski', 'jan@example.pl', null, 'ACT1002X');

-- One household tariff since two years ago (water, sewage, two monthly fees, 8 % VAT).
insert into tariff_group (code, name, customer_kind) values ('G1', 'Gospodarstwa domowe', 'household');
insert into tariff_version (tariff_group_id, valid_from, water_m3, sewage_m3, vat_percent,
                            einvoice_discount, norm_m3_per_person_month)
select tariff_group_id, current_date - interval '2 years', 7.21, 12.80, 8, 0.50, 3.0 from tariff_group;
insert into tariff_fee (tariff_version_id, name, amount, per)
select tariff_version_id, f.name, f.amount, 'month' from tariff_version,
  (values ('abonament wodny', 8.10), ('abonament kanalizacyjny', 1.52)) as f(name, amount);

-- Monthly billed contracts since 13 months ago.
insert into contract (number, customer_id, premises_id, tariff_group_id, sewage, billing_months, valid_from)
select 'UM/' || c.number, c.customer_id, p.premises_id, g.tariff_group_id, true, 1,
       (date_trunc('month', current_date) - interval '13 months')::date
from customer c
join address a on a.street = case c.number when '1001' then 'ul. Lipowa' else 'ul. Klonowa' end
join premises p using (address_id)
cross join tariff_group g;

-- Meters, installed at the contracts' start: 1001's main meter and garden sub-meter behind
-- it, 1002's main meter.
insert into meter (serial, manufacturer, model, register_digits, role, district_id, verified_until) values
  ('BT1001M', 'APA', 'Apator JS-1,6', 5, 'main', (select district_id from district), current_date + interval '3 years'),
  ('BT1001G', 'APA', 'Apator JS-1,6', 5, 'sub', (select district_id from district), current_date + interval '3 years'),
  ('BT1002M', 'APA', 'Apator JS-1,6', 5, 'main', (select district_id from district), current_date + interval '3 years');
insert into meter_installation (meter_id, premises_id, role, parent_meter_id, installed_at, installed_read_ml)
select m.meter_id, k.premises_id, m.role,
       case when m.role = 'sub' then (select meter_id from meter where serial = 'BT1001M') end,
       k.valid_from - interval '1 day', 100000000 -- 100 m³
from meter m
join contract k on k.number = 'UM/' || substr(m.serial, 3, 4);

-- The signed contract, in the customer's documents (as the office stores it).
insert into customer_document (customer_id, contract_id, kind, title, filename, content_type, data, issued_on)
select customer_id, contract_id, 'contract', 'Umowa o zaopatrzenie w wodę ' || number,
       'umowa-' || customer_id || '.pdf', 'application/pdf',
       convert_to(E'%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n', 'UTF8'),
       valid_from
from contract where number = 'UM/1001';
