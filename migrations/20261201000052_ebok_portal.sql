-- eBOK data of the portal: consent and notification vocabularies, contact-change answers,
-- attachments stored as files in the data dir (path and metadata here), gap-free case numbers
-- and the data-driven application forms (form_definition), seeded with every form of SPEC §3.4.

alter table consent drop constraint if exists consent_kind_check;
alter table consent add constraint consent_kind_check check (kind in
    ('einvoice', 'email', 'sms', 'push', 'marketing', 'commercial', 'alarm_notifications'));

alter table notification_preference drop constraint if exists notification_preference_topic_check;
alter table notification_preference add constraint notification_preference_topic_check check (topic in
    ('invoice', 'payment', 'alarm', 'outage', 'reading', 'application',
     'new_invoice', 'payment_due', 'overdue', 'readings_planned', 'leak_alarm', 'case_status',
     'area_warning'));
alter table notification_preference add column updated_at timestamptz not null default now();

alter table push_subscription add column user_agent text;

alter table contact_change_request
    add column answer text,
    add column applied_at timestamptz,
    add constraint contact_change_decided check ((status = 'pending') = (decided_at is null));

-- Files live in the data dir under a random name; the row keeps where and what they are.
alter table attachment alter column data drop not null;
alter table attachment
    add column storage_path text,
    add column size_bytes   bigint check (size_bytes > 0),
    add column sha256       char(64),
    add constraint attachment_stored check (data is not null or storage_path is not null);

-- Case numbers WN/<year>/<5 digits>: one counter row per year, taken with a row lock.
create table application_number (
    year        int primary key check (year between 2000 and 2999),
    last_number int not null default 0 check (last_number >= 0)
);

-- A form as data. fields is an array of
-- {"name","type","required","label_pl","label_en","help_pl","help_en","options":[...]} with type
-- one of text, textarea, date, number, email, phone, select, checkbox, iban, meter.
create table form_definition (
    code                text primary key check (code ~ '^[a-z][a-z0-9_]{1,49}$'),
    title_pl            text not null,
    title_en            text not null,
    description_pl      text not null default '',
    description_en      text not null default '',
    fields              jsonb not null check (jsonb_typeof(fields) = 'array'),
    attachments_allowed boolean not null default true,
    max_attachments     smallint not null default 5 check (max_attachments between 0 and 20),
    active              boolean not null default true,
    position            int not null default 100,
    created_at          timestamptz not null default now(),
    updated_at          timestamptz not null default now()
);

-- application.kind names its form.
alter table application add constraint application_kind_form
    foreign key (kind) references form_definition (code);

insert into form_definition (code, position, title_pl, title_en, description_pl, description_en, attachments_allowed, fields) values
('technical_conditions', 10, 'Wniosek o wydanie warunków technicznych przyłączenia', 'Application for technical connection conditions',
 'Dla nieruchomości, która ma być przyłączona do sieci wodociągowej lub kanalizacyjnej.', 'For a property to be connected to the water or sewage network.', true,
 '[{"name":"plot_address","type":"text","required":true,"label_pl":"Adres lub numer działki","label_en":"Address or plot number","help_pl":"Np. ul. Polna 3 albo dz. nr 123/4, obręb Łężyce.","help_en":"E.g. 3 Polna St or plot 123/4."},
   {"name":"service","type":"select","required":true,"label_pl":"Rodzaj przyłącza","label_en":"Connection","options":["water","sewage","water_and_sewage"],"help_pl":"Woda, kanalizacja lub oba.","help_en":"Water, sewage or both."},
   {"name":"building_use","type":"select","required":true,"label_pl":"Przeznaczenie budynku","label_en":"Building use","options":["house","flats","business","other"],"help_pl":"","help_en":""},
   {"name":"daily_demand_m3","type":"number","required":true,"label_pl":"Zapotrzebowanie na wodę (m³/dobę)","label_en":"Water demand (m³/day)","help_pl":"Średnie dobowe zużycie.","help_en":"Average daily use."},
   {"name":"planned_date","type":"date","required":false,"label_pl":"Planowany termin przyłączenia","label_en":"Planned connection date","help_pl":"","help_en":""}]'),
('supply_contract', 20, 'Wniosek o zawarcie umowy na dostawę wody', 'Application for a water supply contract',
 'Umowa o zaopatrzenie w wodę dla przyłączonej nieruchomości.', 'Water supply contract for a connected property.', true,
 '[{"name":"premises_address","type":"text","required":true,"label_pl":"Adres nieruchomości","label_en":"Property address","help_pl":"","help_en":""},
   {"name":"legal_title","type":"select","required":true,"label_pl":"Tytuł prawny do nieruchomości","label_en":"Legal title to the property","options":["owner","co_owner","tenant","manager"],"help_pl":"Dołącz dokument potwierdzający tytuł prawny.","help_en":"Attach a document proving the title."},
   {"name":"start_date","type":"date","required":true,"label_pl":"Data rozpoczęcia umowy","label_en":"Contract start date","help_pl":"","help_en":""},
   {"name":"meter_reading","type":"number","required":false,"label_pl":"Stan wodomierza (m³)","label_en":"Meter reading (m³)","help_pl":"Stan w dniu przejęcia.","help_en":"Reading on the start date."}]'),
('sewage_contract', 30, 'Wniosek o zawarcie umowy na odprowadzanie ścieków', 'Application for a sewage disposal contract',
 'Umowa o odprowadzanie ścieków do sieci kanalizacyjnej.', 'Contract for sewage disposal into the network.', true,
 '[{"name":"premises_address","type":"text","required":true,"label_pl":"Adres nieruchomości","label_en":"Property address","help_pl":"","help_en":""},
   {"name":"legal_title","type":"select","required":true,"label_pl":"Tytuł prawny do nieruchomości","label_en":"Legal title to the property","options":["owner","co_owner","tenant","manager"],"help_pl":"","help_en":""},
   {"name":"start_date","type":"date","required":true,"label_pl":"Data rozpoczęcia umowy","label_en":"Contract start date","help_pl":"","help_en":""},
   {"name":"sewage_kind","type":"select","required":true,"label_pl":"Rodzaj ścieków","label_en":"Kind of sewage","options":["household","industrial"],"help_pl":"","help_en":""}]'),
('submeter_conditions', 40, 'Wniosek o warunki montażu wodomierza dodatkowego (podlicznika)', 'Application for sub-meter installation conditions',
 'Np. podlicznik do podlewania ogrodu: woda z niego nie jest liczona do ścieków.', 'E.g. a garden sub-meter: its water is not billed as sewage.', true,
 '[{"name":"premises_address","type":"text","required":true,"label_pl":"Adres nieruchomości","label_en":"Property address","help_pl":"","help_en":""},
   {"name":"purpose","type":"select","required":true,"label_pl":"Przeznaczenie wody","label_en":"Water use","options":["garden","pool","livestock","other"],"help_pl":"","help_en":""},
   {"name":"main_meter","type":"meter","required":false,"label_pl":"Numer wodomierza głównego","label_en":"Main meter number","help_pl":"Numer z tarczy wodomierza.","help_en":"The number on the meter face."}]'),
('meter_verification', 50, 'Wniosek o sprawdzenie (legalizację) wodomierza', 'Application for meter verification',
 'Gdy wskazania budzą wątpliwości. Jeśli wodomierz działa poprawnie, koszt sprawdzenia ponosi wnioskodawca.', 'When readings look wrong. If the meter is found correct, the applicant pays for the check.', true,
 '[{"name":"meter","type":"meter","required":true,"label_pl":"Numer wodomierza","label_en":"Meter number","help_pl":"","help_en":""},
   {"name":"reason","type":"textarea","required":true,"label_pl":"Powód","label_en":"Reason","help_pl":"Co budzi wątpliwości?","help_en":"What looks wrong?"},
   {"name":"reading","type":"number","required":false,"label_pl":"Aktualny stan (m³)","label_en":"Current reading (m³)","help_pl":"","help_en":""}]'),
('overpayment_refund', 60, 'Wniosek o zwrot nadpłaty', 'Application for an overpayment refund',
 'Nadpłata zostanie przelana na wskazany rachunek.', 'The overpayment is transferred to the account given.', false,
 '[{"name":"iban","type":"iban","required":true,"label_pl":"Numer rachunku do zwrotu","label_en":"Account for the refund","help_pl":"26 cyfr, np. PL61 1090 1014 0000 0712 1981 2874.","help_en":"26 digits."},
   {"name":"account_holder","type":"text","required":true,"label_pl":"Właściciel rachunku","label_en":"Account holder","help_pl":"","help_en":""},
   {"name":"amount","type":"number","required":false,"label_pl":"Kwota (zł)","label_en":"Amount (PLN)","help_pl":"Puste: cała nadpłata.","help_en":"Empty: the whole overpayment."}]'),
('invoice_correction', 70, 'Wniosek o korektę faktury', 'Application for an invoice correction',
 'Gdy faktura zawiera błędny odczyt, dane lub kwotę.', 'When an invoice has a wrong reading, data or amount.', true,
 '[{"name":"invoice_number","type":"text","required":true,"label_pl":"Numer faktury","label_en":"Invoice number","help_pl":"Np. FW/2026/05/000123.","help_en":"E.g. FW/2026/05/000123."},
   {"name":"reason","type":"textarea","required":true,"label_pl":"Co jest błędne","label_en":"What is wrong","help_pl":"","help_en":""},
   {"name":"correct_reading","type":"number","required":false,"label_pl":"Prawidłowy stan wodomierza (m³)","label_en":"Correct meter reading (m³)","help_pl":"","help_en":""}]'),
('instalments', 80, 'Wniosek o rozłożenie należności na raty', 'Application for payment in instalments',
 'Rozłożenie zaległości na raty.', 'Spreading arrears over instalments.', true,
 '[{"name":"amount","type":"number","required":true,"label_pl":"Kwota do rozłożenia (zł)","label_en":"Amount (PLN)","help_pl":"","help_en":""},
   {"name":"instalments","type":"number","required":true,"label_pl":"Liczba rat","label_en":"Number of instalments","help_pl":"Od 2 do 24.","help_en":"2 to 24."},
   {"name":"justification","type":"textarea","required":true,"label_pl":"Uzasadnienie","label_en":"Justification","help_pl":"","help_en":""}]'),
('billing_data_change', 90, 'Wniosek o zmianę danych do faktury', 'Application for a change of billing data',
 'Zmiana nabywcy, adresu korespondencyjnego lub NIP na fakturach.', 'Change of buyer, mailing address or tax number on invoices.', true,
 '[{"name":"buyer_name","type":"text","required":false,"label_pl":"Nabywca","label_en":"Buyer","help_pl":"","help_en":""},
   {"name":"nip","type":"text","required":false,"label_pl":"NIP","label_en":"Tax number (NIP)","help_pl":"10 cyfr.","help_en":"10 digits."},
   {"name":"mailing_address","type":"textarea","required":false,"label_pl":"Adres korespondencyjny","label_en":"Mailing address","help_pl":"","help_en":""},
   {"name":"from_date","type":"date","required":true,"label_pl":"Od kiedy","label_en":"From","help_pl":"","help_en":""}]'),
('termination', 100, 'Wypowiedzenie umowy', 'Termination of the contract',
 'Rozwiązanie umowy o zaopatrzenie w wodę i/lub odprowadzanie ścieków.', 'Ending the water supply and/or sewage contract.', true,
 '[{"name":"contract_number","type":"text","required":true,"label_pl":"Numer umowy","label_en":"Contract number","help_pl":"","help_en":""},
   {"name":"end_date","type":"date","required":true,"label_pl":"Data rozwiązania","label_en":"End date","help_pl":"","help_en":""},
   {"name":"final_reading","type":"number","required":false,"label_pl":"Stan końcowy wodomierza (m³)","label_en":"Final meter reading (m³)","help_pl":"","help_en":""},
   {"name":"new_address","type":"textarea","required":true,"label_pl":"Adres do korespondencji","label_en":"Address for correspondence","help_pl":"Na rozliczenie końcowe.","help_en":"For the final settlement."}]'),
('handover_protocol', 110, 'Protokół zdawczo-odbiorczy (zmiana odbiorcy)', 'Handover protocol (change of customer)',
 'Przekazanie lokalu nowemu odbiorcy ze stanem wodomierza.', 'Handing the premises to a new customer with the meter reading.', true,
 '[{"name":"premises_address","type":"text","required":true,"label_pl":"Adres lokalu","label_en":"Premises address","help_pl":"","help_en":""},
   {"name":"handover_date","type":"date","required":true,"label_pl":"Data przekazania","label_en":"Handover date","help_pl":"","help_en":""},
   {"name":"meter","type":"meter","required":true,"label_pl":"Numer wodomierza","label_en":"Meter number","help_pl":"","help_en":""},
   {"name":"reading","type":"number","required":true,"label_pl":"Stan wodomierza (m³)","label_en":"Meter reading (m³)","help_pl":"","help_en":""},
   {"name":"new_customer","type":"text","required":true,"label_pl":"Nowy odbiorca","label_en":"New customer","help_pl":"Imię i nazwisko lub nazwa.","help_en":"Name."}]'),
('septic_pickup', 120, 'Zamówienie wywozu nieczystości (szambo)', 'Septic-tank pickup order',
 'Wywóz nieczystości ciekłych ze zbiornika bezodpływowego.', 'Emptying a septic tank.', false,
 '[{"name":"address","type":"text","required":true,"label_pl":"Adres","label_en":"Address","help_pl":"","help_en":""},
   {"name":"volume_m3","type":"number","required":true,"label_pl":"Pojemność do wywozu (m³)","label_en":"Volume (m³)","help_pl":"","help_en":""},
   {"name":"preferred_date","type":"date","required":true,"label_pl":"Preferowany termin","label_en":"Preferred date","help_pl":"","help_en":""},
   {"name":"phone","type":"phone","required":true,"label_pl":"Telefon kontaktowy","label_en":"Contact phone","help_pl":"","help_en":""}]'),
('meter_replacement', 130, 'Wniosek o wymianę wodomierza', 'Application for meter replacement',
 'Uszkodzony, zamarznięty lub z upływającą legalizacją.', 'Damaged, frozen or with expiring verification.', true,
 '[{"name":"meter","type":"meter","required":true,"label_pl":"Numer wodomierza","label_en":"Meter number","help_pl":"","help_en":""},
   {"name":"reason","type":"select","required":true,"label_pl":"Powód","label_en":"Reason","options":["damaged","frozen","verification","other"],"help_pl":"","help_en":""},
   {"name":"reading","type":"number","required":false,"label_pl":"Stan wodomierza (m³)","label_en":"Meter reading (m³)","help_pl":"","help_en":""},
   {"name":"description","type":"textarea","required":false,"label_pl":"Opis","label_en":"Description","help_pl":"","help_en":""}]'),
('general_request', 140, 'Wniosek ogólny', 'General request',
 'Sprawa, dla której nie ma osobnego formularza.', 'Anything without a form of its own.', true,
 '[{"name":"subject","type":"text","required":true,"label_pl":"Temat","label_en":"Subject","help_pl":"","help_en":""},
   {"name":"content","type":"textarea","required":true,"label_pl":"Treść","label_en":"Content","help_pl":"","help_en":""},
   {"name":"reply_by","type":"select","required":false,"label_pl":"Odpowiedź","label_en":"Reply by","options":["ebok","email","letter"],"help_pl":"","help_en":""}]');
