//! The office for staff (`/office/`): its home links to every page the user's role may open.

mod mail;
mod users;

use crate::app::{Access, AppState, Area, IdKind, RouteRule};
use crate::auth::{AnyStaff, Role, Staff};
use crate::ui::{self, Page};
use askama::Template;
use axum::response::Response;
use axum::Router;

const STAFF: Access = Access::Staff(&[Role::Reader, Role::Clerk, Role::Operator]);

/// Routes of the office.
pub const ROUTES: &[RouteRule] = &[
    RouteRule::get("/office/", STAFF),
    RouteRule::get("/office/users", Access::Staff(&[])),
    RouteRule::get("/office/mail", STAFF),
    RouteRule::get("/office/mail/{name}", STAFF).with_ids(&[IdKind::Mail]),
];

pub fn router() -> Router<AppState> {
    Area::new(ROUTES)
        .get("/office/", home)
        .get("/office/users", users::list)
        .get("/office/mail", mail::list)
        .get("/office/mail/{name}", mail::show)
        .into_router()
}

/// A link on the office home, shown when the role may open it.
pub struct Link {
    pub href: &'static str,
    pub label: String,
    pub text: String,
}

#[derive(Template)]
#[template(path = "office/home.html")]
struct Home {
    page: Page,
    links: Vec<Link>,
}

/// The links of the office home: every office route without parameters the user may open.
async fn home(staff: Staff<AnyStaff>, page: Page) -> Response {
    let mut links: Vec<Link> = ROUTES
        .iter()
        .chain(crate::console::ROUTES)
        .filter(|r| {
            r.method == crate::app::Method::Get && r.path != "/office/" && !r.path.contains('{')
        })
        .filter(|r| r.allows(&staff.user.roles))
        .map(|r| {
            let key = r.path.trim_matches('/').replace('/', "-");
            Link {
                href: r.path,
                label: page.t(&format!("nav-{key}")),
                text: page.t(&format!("nav-{key}-text")),
            }
        })
        .collect();
    links.sort_by(|a, b| a.href.cmp(b.href));
    ui::ok(&Home { page, links })
}
