//! The security matrix, generated from the router's route lists (`ROUTES` of every area):
//! every route × every role (and anonymous) answers as its rule says — allowed, 403, or a
//! redirect to /login — and every route that takes a record id answers 404 for another
//! customer's record. A route registered without a rule cannot even be built (`Area` panics),
//! so a new page cannot escape this test.

use crate::support::{TestApp, TestClient, USERS};
use axum::http::{Method as HttpMethod, StatusCode};
use ewoda_portal::app::{all_routes, Access, IdKind, Method, RouteRule};
use ewoda_portal::auth::Role;

/// The path with its parameters filled by records owned by `owner` (a customer login).
async fn fill(app: &TestApp, rule: &RouteRule, owner: &str) -> String {
    let mut path = rule.path.to_string();
    for kind in rule.ids {
        let id = sample_id(app, *kind, owner).await;
        let start = path.find('{').expect("a parameter per IdKind");
        let end = start + path[start..].find('}').unwrap();
        path.replace_range(start..=end, &id);
    }
    path
}

/// A record of the given kind belonging to `owner`. A new IdKind needs its fixture here.
async fn sample_id(app: &TestApp, kind: IdKind, owner: &str) -> String {
    match kind {
        // Mails are the office's, not a customer's: any name will do.
        IdKind::Mail => "no-such-mail".into(),
        IdKind::FormCode => "general_request".into(),
        IdKind::Application => crate::applications::case_of(app, owner).await.to_string(),
        IdKind::Attachment => photo_of(app, owner).await.to_string(),
        IdKind::Meter => {
            let number = if owner == "klient" { "1001" } else { "1002" };
            crate::meters::meter_of(&app.pool, number, &format!("M-{owner}-{}", rand_suffix()))
                .await
                .to_string()
        }
        // ebok: money
        IdKind::Invoice => money_invoice(app, owner).await.to_string(),
        IdKind::Document => format!("invoice-{}", money_invoice(app, owner).await),
    }
}

/// A photo uploaded by `owner`.
async fn photo_of(app: &TestApp, owner: &str) -> i64 {
    use ewoda_portal::store::attachment::{self, AttachmentKind};
    let id = crate::support::customer_id(&app.pool, crate::support::number_of(owner)).await;
    let store = ewoda_portal::ebok::meters::attachment_store(&app.state);
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR matrix photo";
    attachment::save(&app.pool, &store, id, AttachmentKind::Photo, "a.png", png)
        .await
        .unwrap()
        .attachment_id
}

/// An invoice of `owner` from the money pages' world (built on first use).
async fn money_invoice(app: &TestApp, owner: &str) -> i64 {
    let w = crate::money_world::ensure(&app.pool).await;
    match owner {
        "klient" => w.open_1001,
        _ => w.open_1002,
    }
}

/// A distinct serial per fixture meter (each call installs a new one).
fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::SeqCst)
}

async fn request(c: &mut TestClient, rule: &RouteRule, path: &str) -> (StatusCode, Option<String>) {
    let r = match rule.method {
        Method::Get => c.get(path).await,
        Method::Post => {
            let token = c.csrf.clone().unwrap_or_default();
            c.send(
                HttpMethod::POST,
                path,
                format!("csrf={token}").into_bytes(),
                Some("application/x-www-form-urlencoded"),
                &[],
            )
            .await
        }
    };
    (r.status, r.location().map(str::to_string))
}

#[tokio::test]
async fn every_route_answers_every_role_as_its_rule_says() {
    let app = TestApp::new().await;
    let mut routes = all_routes();
    // Logging out ends the session the next routes are asked with: last.
    routes.sort_by_key(|r| r.path == "/logout");
    assert!(
        routes.len() >= 8,
        "the route lists are wired into all_routes()"
    );
    let mut clients = vec![(Vec::new(), "anonymous", app.anonymous())];
    for (login, role) in USERS {
        let mut c = app.login(login).await;
        c.get("/").await; // a page with the session's CSRF token
        clients.push((vec![Role::parse(role).unwrap()], *login, c));
    }
    let mut checked = 0;
    for rule in &routes {
        let path = fill(&app, rule, "klient").await;
        for (roles, who, client) in clients.iter_mut() {
            // Requests as klient2 use klient's ids: those are checked below, not here.
            if *who == "klient2" && !rule.ids.is_empty() {
                continue;
            }
            let (status, location) = request(client, rule, &path).await;
            let what = format!("{:?} {} as {who}", rule.method, rule.path);
            if rule.allows(roles) {
                assert_ne!(status, StatusCode::FORBIDDEN, "{what}: allowed by its rule");
                assert!(
                    !(location
                        .as_deref()
                        .is_some_and(|l| l.starts_with("/login?next"))),
                    "{what}: allowed but sent to login"
                );
                assert!(!status.is_server_error(), "{what}: {status}");
                // A page of an area (not a public link target such as a token link) opens.
                if rule.method == Method::Get
                    && rule.ids.is_empty()
                    && rule.access != Access::Public
                {
                    assert_eq!(status, StatusCode::OK, "{what}");
                }
            } else if roles.is_empty() && rule.path.starts_with("/api/") {
                // The API answers JSON: 401, not the login page's redirect.
                assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}: must answer 401");
            } else if roles.is_empty() {
                assert_eq!(status, StatusCode::SEE_OTHER, "{what}: must send to login");
                assert!(
                    location.unwrap_or_default().starts_with("/login?next="),
                    "{what}"
                );
            } else {
                assert_eq!(
                    status,
                    StatusCode::FORBIDDEN,
                    "{what}: not allowed by its rule"
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= routes.len() * 6);
    app.drop_db().await;
}

#[tokio::test]
async fn another_customers_records_answer_404() {
    let app = TestApp::new().await;
    let mut other = app.login("klient2").await;
    other.get("/ebok/").await;
    for rule in all_routes() {
        if !rule.ids.iter().any(|k| k.owned()) || rule.access != Access::Customer {
            continue;
        }
        let path = fill(&app, rule, "klient").await;
        let (status, _) = request(&mut other, rule, &path).await;
        assert_eq!(
            status,
            StatusCode::NOT_FOUND,
            "{:?} {path} as klient2",
            rule.method
        );
    }
    app.drop_db().await;
}

#[test]
#[should_panic(expected = "has no RouteRule")]
fn a_route_without_a_rule_cannot_be_registered() {
    use ewoda_portal::app::Area;
    const RULES: &[RouteRule] = &[RouteRule::get("/listed", Access::Public)];
    let _ = Area::new(RULES).get("/unlisted", || async { "x" });
}
