//! `ewoda demo`, `ewoda migrate`, `ewoda setup`.

use ewoda_common::config::CommonConfig;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// HTTP port of the portal.
    #[arg(long, env = "EWODA_PORT", default_value_t = 8080)]
    pub port: u16,
    /// Address to listen on.
    #[arg(long, env = "EWODA_HOST", default_value = "127.0.0.1")]
    pub host: String,
    #[command(flatten)]
    pub common: CommonConfig,
}

#[derive(Debug, clap::Args)]
pub struct MigrateArgs {
    #[command(flatten)]
    pub common: CommonConfig,
}

pub fn run(args: Args) -> ExitCode {
    let opts = ewoda_demo::DemoOptions {
        common: args.common,
        host: args.host,
        port: args.port,
    };
    super::finish(
        super::runtime().and_then(|rt| rt.block_on(ewoda_demo::run(opts)).map_err(Into::into)),
    )
}

pub fn migrate(args: MigrateArgs) -> ExitCode {
    super::finish(super::runtime().and_then(|rt| {
        rt.block_on(async {
            let services =
                ewoda_common::services::Services::start(&ewoda_common::services::ServiceOptions {
                    mqtt_url: Some(String::new()),
                    ..args.common.service_options()
                })?;
            let pool = ewoda_common::db::connect(&services.database_url, 2).await?;
            ewoda_common::db::migrate(&pool).await?;
            println!(
                "migrated {}",
                ewoda_common::db::describe(&services.database_url)
            );
            pool.close().await;
            Ok(())
        })
    }))
}

pub fn setup() -> ExitCode {
    use ewoda_common::services::{apt_install, locate};
    let wanted = [("pg_ctl", "postgresql"), ("mosquitto", "mosquitto")];
    let mut result = Ok(());
    for (program, package) in wanted {
        let found = locate(program, &["/usr/sbin/mosquitto"]).is_some()
            || (program == "pg_ctl" && std::path::Path::new("/usr/lib/postgresql").exists());
        if found {
            println!("{package}: installed");
        } else if let Err(e) = apt_install(package) {
            result = Err(e.into());
        } else {
            println!("{package}: installed now");
        }
    }
    super::finish(result)
}
