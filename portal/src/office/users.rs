//! `/office/users` (admin): the portal's user accounts and roles, on the list component, with
//! a chart of new accounts per month.

use crate::app::AppState;
use crate::auth::{Admin, Staff};
use crate::error::AppError;
use crate::ui::chart::{self, Chart};
use crate::ui::list::{self, Column, Filter, Kind, ListDef, ListQuery, ListView, Listed};
use crate::ui::{self, Page};
use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use rust_decimal::Decimal;
use sqlx::Row;

const ROLE_CHOICES: &[(&str, &str)] = &[
    ("customer", "role-customer"),
    ("reader", "role-reader"),
    ("clerk", "role-clerk"),
    ("operator", "role-operator"),
    ("admin", "role-admin"),
];

/// The users list.
pub static USERS: ListDef = ListDef {
    id: "users",
    from: || "app_user u left join customer c using (customer_id)".into(),
    columns: &[
        Column { key: "login", label: "users-login", sql: "u.login", kind: Kind::Text, filter: Filter::Contains, shown: true },
        Column { key: "name", label: "users-name", sql: "u.display_name", kind: Kind::Text, filter: Filter::Contains, shown: true },
        Column {
            key: "roles",
            label: "users-roles",
            sql: "(select string_agg(role, ', ' order by role) from user_role r where r.user_id = u.user_id)",
            kind: Kind::Text,
            filter: Filter::Choice(ROLE_CHOICES),
            shown: true,
        },
        Column { key: "customer", label: "users-customer", sql: "c.number", kind: Kind::Text, filter: Filter::Contains, shown: true },
        Column { key: "email", label: "users-email", sql: "u.email", kind: Kind::Text, filter: Filter::Contains, shown: false },
        Column { key: "failed", label: "users-failed", sql: "u.failed_logins", kind: Kind::Integer, filter: Filter::None, shown: false },
        Column { key: "created", label: "users-created", sql: "u.created_at::date", kind: Kind::Date, filter: Filter::None, shown: true },
    ],
    default_sort: "login",
    default_desc: false,
    link: None,
};

#[derive(Template)]
#[template(path = "office/users.html")]
struct UsersPage {
    page: Page,
    list: ListView,
    chart: Chart,
}

pub async fn list(
    _admin: Staff<Admin>,
    page: Page,
    State(state): State<AppState>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let q = ListQuery::parse(&USERS, &pairs);
    let list = match list::run(&state.pool, &USERS, &q, None, &page).await? {
        Listed::Export(file) => return Ok(file),
        Listed::Page(list) => list,
    };
    let chart = accounts_chart(&state, &page).await?;
    Ok(ui::ok(&UsersPage { page, list, chart }))
}

/// New accounts per month over the last twelve months.
async fn accounts_chart(state: &AppState, page: &Page) -> Result<Chart, AppError> {
    let rows = sqlx::query(
        "select to_char(m, 'YYYY-MM') as month, count(u.user_id) as n
         from generate_series(date_trunc('month', now()) - interval '11 months', date_trunc('month', now()), interval '1 month') m
         left join app_user u on date_trunc('month', u.created_at) = m
         group by m order by m",
    )
    .fetch_all(&state.pool)
    .await?;
    let points = rows
        .iter()
        .map(|r| {
            Ok((
                r.try_get("month")?,
                Decimal::from(r.try_get::<i64, _>("n")?),
            ))
        })
        .collect::<Result<Vec<(String, Decimal)>, sqlx::Error>>()?;
    Ok(chart::bars(
        "accounts",
        page.t("users-chart-title"),
        page.t("users-chart-month"),
        page.t("users-chart-count"),
        page.lang,
        &points,
    ))
}
