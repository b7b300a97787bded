//! `ewoda user add --role ROLE LOGIN`: creates a staff user (password prompted, or read from
//! the first line of --password-file).

use ewoda_portal::auth::users::{self, NewStaff};
use std::process::ExitCode;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Create a staff user: reader, clerk, operator or admin.
    Add(AddArgs),
}

#[derive(Debug, clap::Args)]
pub struct AddArgs {
    /// reader, clerk, operator or admin.
    #[arg(long)]
    pub role: String,
    /// The login (3–64 characters a–z, 0–9, '.', '_', '-').
    pub login: String,
    /// Read the password from the first line of this file instead of prompting.
    #[arg(long)]
    pub password_file: Option<std::path::PathBuf>,
    /// Display name (default: the login).
    #[arg(long)]
    pub name: Option<String>,
    #[arg(long)]
    pub email: Option<String>,
    /// PostgreSQL URL.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: String,
}

pub fn run(command: Command) -> ExitCode {
    let Command::Add(args) = command;
    super::finish(add(args))
}

fn add(args: AddArgs) -> anyhow::Result<()> {
    let password = match &args.password_file {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("--password-file {}: {e}", path.display()))?
            .lines()
            .next()
            .unwrap_or_default()
            .to_string(),
        None => {
            let first = rpassword::prompt_password(format!("Password for {}: ", args.login))?;
            let again = rpassword::prompt_password("Again: ")?;
            anyhow::ensure!(first == again, "the passwords differ");
            first
        }
    };
    let rt = super::runtime()?;
    rt.block_on(async {
        let pool = ewoda_common::db::connect(&args.database_url, 2).await?;
        ewoda_common::db::migrate(&pool).await?;
        let user = NewStaff {
            login: args.login.clone(),
            role: args.role.clone(),
            password,
            name: args.name.clone(),
            email: args.email.clone(),
        };
        let id = users::add(&pool, &user).await?;
        println!(
            "created {} ({}), user id {id}",
            args.login.to_lowercase(),
            args.role
        );
        pool.close().await;
        Ok(())
    })
}
