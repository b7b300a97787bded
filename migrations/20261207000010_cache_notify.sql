-- The portal keeps sessions and users' standing (active flag, customer, roles) in memory,
-- coherent with these tables: every change notifies the key changed, whichever process made
-- it (a portal, `ewoda user`, SQL). A truncate notifies '*' (forget everything).
-- Channels and payloads: portal/src/app/coherent.rs.

create function notify_session_changed() returns trigger language plpgsql as $$
begin
    perform pg_notify('ewoda_session', old.id);
    return null;
end $$;

create trigger session_changed after update or delete on tower_sessions.session
    for each row execute function notify_session_changed();

create function notify_user_changed() returns trigger language plpgsql as $$
begin
    -- NEW is null in a delete, OLD in an insert.
    perform pg_notify('ewoda_auth', coalesce(new.user_id, old.user_id)::text);
    return null;
end $$;

create trigger standing_changed after update of active, customer_id or delete on app_user
    for each row execute function notify_user_changed();
create trigger roles_changed after insert or update or delete on user_role
    for each row execute function notify_user_changed();

create function notify_all_forgotten() returns trigger language plpgsql as $$
begin
    perform pg_notify(tg_argv[0], '*');
    return null;
end $$;

create trigger sessions_truncated after truncate on tower_sessions.session
    for each statement execute function notify_all_forgotten('ewoda_session');
create trigger users_truncated after truncate on app_user
    for each statement execute function notify_all_forgotten('ewoda_auth');
create trigger roles_truncated after truncate on user_role
    for each statement execute function notify_all_forgotten('ewoda_auth');
