//! Routes declared as data. Each area lists its routes once, in `pub const ROUTES`, with who
//! may open them; [`Area`] refuses to register a handler whose route is not listed, and the
//! security matrix test walks [`crate::app::all_routes`] for every role. So a new page cannot
//! be added without saying who may see it, and what it says is tested.

use crate::app::AppState;
use crate::auth::Role;
use axum::handler::Handler;
use axum::routing::{get, post};
use axum::Router;

/// HTTP method of a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
}

/// Who may open a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, logged in or not.
    Public,
    /// A logged-in customer (eBOK).
    Customer,
    /// Logged-in staff with one of these roles (admin is always allowed).
    Staff(&'static [Role]),
    /// Anyone logged in.
    LoggedIn,
}

/// What kind of record a path parameter names; the security matrix fills it with another
/// customer's record and expects 404.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    /// A mail in the maildir (staff only).
    Mail,
    /// A meter on the customer's premises (ebok: meters and profile).
    Meter,
    /// An application (case) of the customer.
    Application,
    /// A file the customer uploaded (a reading's photo, an application's attachment).
    Attachment,
    /// A form definition's code: public, not owned by anyone.
    FormCode,
    // ebok: money
    /// One of a customer's invoices (`invoice.invoice_id`).
    Invoice,
    /// One of a customer's documents (`invoice-12`, `notice-3`, `file-5`).
    Document,
}

impl IdKind {
    /// Whether the record belongs to a customer (so another customer must get 404).
    pub fn owned(self) -> bool {
        !matches!(self, IdKind::Mail | IdKind::FormCode)
    }
}

/// One route: method, axum path (`/ebok/invoices/{id}`), access, and the kind of each path
/// parameter in order.
#[derive(Debug, Clone, Copy)]
pub struct RouteRule {
    pub method: Method,
    pub path: &'static str,
    pub access: Access,
    pub ids: &'static [IdKind],
}

impl RouteRule {
    pub const fn get(path: &'static str, access: Access) -> Self {
        RouteRule {
            method: Method::Get,
            path,
            access,
            ids: &[],
        }
    }

    pub const fn post(path: &'static str, access: Access) -> Self {
        RouteRule {
            method: Method::Post,
            path,
            access,
            ids: &[],
        }
    }

    pub const fn with_ids(mut self, ids: &'static [IdKind]) -> Self {
        self.ids = ids;
        self
    }

    /// Whether a user with these roles (none: anonymous) may open the route.
    pub fn allows(&self, roles: &[Role]) -> bool {
        match self.access {
            Access::Public => true,
            Access::LoggedIn => !roles.is_empty(),
            Access::Customer => roles.contains(&Role::Customer),
            Access::Staff(allowed) => roles
                .iter()
                .any(|r| *r == Role::Admin || allowed.contains(r)),
        }
    }
}

/// A router that only takes routes its area declared.
pub struct Area {
    rules: &'static [RouteRule],
    router: Router<AppState>,
}

impl Area {
    pub fn new(rules: &'static [RouteRule]) -> Self {
        Area {
            rules,
            router: Router::new(),
        }
    }

    fn check(&self, method: Method, path: &str) {
        assert!(
            self.rules
                .iter()
                .any(|r| r.method == method && r.path == path),
            "route {method:?} {path} has no RouteRule in its area's ROUTES"
        );
    }

    pub fn get<H, T>(mut self, path: &'static str, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        self.check(Method::Get, path);
        self.router = self.router.route(path, get(handler));
        self
    }

    pub fn post<H, T>(mut self, path: &'static str, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        self.check(Method::Post, path);
        self.router = self.router.route(path, post(handler));
        self
    }

    pub fn into_router(self) -> Router<AppState> {
        self.router
    }
}
