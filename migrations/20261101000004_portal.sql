-- Schema v1, part 4: people and cases of the web portal, owned by ewoda-portal.

-- Staff and customers who log in. Passwords are argon2id PHC strings.
create table app_user (
    user_id       bigint generated always as identity primary key,
    login         text not null unique check (login = lower(login) and length(login) between 3 and 254),
    email         text,
    display_name  text not null,
    password_hash text not null check (password_hash like '$argon2id$%'),
    customer_id   bigint references customer,
    org_unit_id   bigint references org_unit,
    locale        text not null default 'pl' check (locale in ('pl', 'en')),
    active        boolean not null default true,
    email_confirmed_at timestamptz,
    created_at    timestamptz not null default now(),
    updated_at    timestamptz not null default now()
);

create table user_role (
    user_id bigint not null references app_user,
    role    text not null check (role in ('customer', 'reader', 'clerk', 'operator', 'admin')),
    primary key (user_id, role)
);

-- Consents with history: every grant or withdrawal is a new row; the latest counts.
create table consent (
    consent_id  bigint generated always as identity primary key,
    customer_id bigint not null references customer,
    kind        text not null check (kind in ('einvoice', 'email', 'sms', 'push', 'marketing', 'alarm_notifications')),
    granted     boolean not null,
    at          timestamptz not null default now(),
    by_user_id  bigint references app_user,
    channel     text not null default 'ebok' check (channel in ('ebok', 'office', 'paper'))
);
create index consent_latest on consent (customer_id, kind, at desc);
create trigger consent_append_only before update or delete on consent
    for each row execute function forbid_change();

create table notification_preference (
    customer_id bigint not null references customer,
    channel     text not null check (channel in ('email', 'sms', 'push')),
    topic       text not null check (topic in ('invoice', 'payment', 'alarm', 'outage', 'reading', 'application')),
    enabled     boolean not null,
    primary key (customer_id, channel, topic)
);

create table push_subscription (
    push_subscription_id bigint generated always as identity primary key,
    user_id   bigint not null references app_user,
    endpoint  text not null unique,
    p256dh    text not null,
    auth      text not null,
    created_at timestamptz not null default now()
);

-- Contact data changes a customer asks for; a clerk approves or rejects.
create table contact_change_request (
    contact_change_request_id bigint generated always as identity primary key,
    customer_id bigint not null references customer,
    changes     jsonb not null,
    status      text not null default 'pending' check (status in ('pending', 'approved', 'rejected')),
    decided_by  bigint references app_user,
    decided_at  timestamptz,
    created_at  timestamptz not null default now()
);

-- Applications (wnioski): data-driven forms; kind names a form definition.
create table application (
    application_id bigint generated always as identity primary key,
    number       text not null unique,
    customer_id  bigint references customer,
    kind         text not null,
    form         jsonb not null,
    status       text not null default 'submitted'
                 check (status in ('draft', 'submitted', 'in_progress', 'waiting_for_customer', 'approved', 'rejected', 'done')),
    org_unit_id  bigint references org_unit,
    assigned_to  bigint references app_user,
    created_at   timestamptz not null default now(),
    updated_at   timestamptz not null default now()
);

-- Network failure reports (awarie), possibly anonymous.
create table failure_report (
    failure_report_id bigint generated always as identity primary key,
    customer_id  bigint references customer,
    category     text not null,
    description  text not null,
    address_text text,
    lat          numeric(9,6) check (lat between -90 and 90),
    lon          numeric(9,6) check (lon between -180 and 180),
    contact      text,
    status       text not null default 'open' check (status in ('open', 'acknowledged', 'in_progress', 'closed')),
    org_unit_id  bigint references org_unit,
    created_at   timestamptz not null default now(),
    updated_at   timestamptz not null default now()
);

-- History of cases: status changes, notes, assignments, delegations.
create table case_event (
    case_event_id bigint generated always as identity primary key,
    application_id bigint references application,
    failure_report_id bigint references failure_report,
    at           timestamptz not null default now(),
    user_id      bigint references app_user,
    event        text not null,
    note         text,
    check ((application_id is null) <> (failure_report_id is null))
);

-- Files attached to applications, failure reports, customer readings; documents and
-- contracts offered for download.
create table attachment (
    attachment_id bigint generated always as identity primary key,
    application_id bigint references application,
    failure_report_id bigint references failure_report,
    customer_id  bigint references customer,
    kind         text not null default 'attachment' check (kind in ('attachment', 'photo', 'document', 'contract')),
    filename     text not null,
    content_type text not null,
    data         bytea not null,
    created_at   timestamptz not null default now()
);

-- Warnings and announcements to an area (contamination, outages, planned readings).
create table broadcast (
    broadcast_id bigint generated always as identity primary key,
    district_id  bigint references district,
    kind         text not null check (kind in ('contamination', 'outage', 'planned_outage', 'reading', 'septic_pickup', 'info')),
    title        text not null,
    body         text not null,
    valid_from   timestamptz not null,
    valid_to     timestamptz,
    created_by   bigint references app_user,
    created_at   timestamptz not null default now()
);
