-- Portal authentication (issue 10): sessions, lockout, one-time e-mail tokens.

-- Sessions of tower-sessions-sqlx-store (its own schema; the store's layout, created here so
-- the schema is in migrations rather than created at run time).
create schema if not exists tower_sessions;
create table if not exists tower_sessions.session (
    id          text primary key not null,
    data        bytea not null,
    expiry_date timestamptz not null
);
create index if not exists session_expiry on tower_sessions.session (expiry_date);

-- Lockout: consecutive failed logins; login is refused until locked_until.
alter table app_user
    add column failed_logins int not null default 0 check (failed_logins >= 0),
    add column locked_until timestamptz;

-- One-time tokens mailed to a user: e-mail confirmation after registration, password reset.
-- Only the SHA-256 of the token is stored; used_at makes it single use.
create table auth_token (
    auth_token_id bigint generated always as identity primary key,
    user_id     bigint not null references app_user,
    purpose     text not null check (purpose in ('confirm', 'reset')),
    token_hash  bytea not null unique check (length(token_hash) = 32),
    expires_at  timestamptz not null,
    used_at     timestamptz,
    created_at  timestamptz not null default now()
);
create index auth_token_user on auth_token (user_id, purpose);
