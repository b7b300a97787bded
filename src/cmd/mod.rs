//! One module per subcommand: argument structs and a call into a library.

pub mod bench;
pub mod bill;
pub mod billing;
pub mod collect;
pub mod decode;
pub mod demo;
pub mod dunning;
pub mod ksef;
pub mod payments;
pub mod rates;
pub mod serve;
pub mod sim;
pub mod user;

/// Runs an async command on a multi-threaded runtime and maps its result to the exit code.
pub fn block_on(
    command: impl std::future::Future<Output = anyhow::Result<()>>,
) -> std::process::ExitCode {
    finish(runtime().and_then(|rt| rt.block_on(command)))
}

/// Runs `work` on the migrated database of `common` (started privately when needed), then
/// closes the pool and stops what was started, whatever `work` returned.
pub async fn with_database<F, Fut>(
    common: &ewoda_common::config::CommonConfig,
    work: F,
) -> anyhow::Result<()>
where
    F: FnOnce(ewoda_common::db::PgPool) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let services =
        ewoda_common::services::Services::start(&ewoda_common::services::ServiceOptions {
            mqtt_url: Some(String::new()),
            ..common.service_options()
        })?;
    let pool = ewoda_common::db::connect(&services.database_url, 2).await?;
    let result = match ewoda_common::db::migrate(&pool).await {
        Ok(()) => work(pool.clone()).await,
        Err(e) => Err(e.into()),
    };
    pool.close().await;
    services.stop();
    result
}

/// Runs `work` on a scratch database, for benchmarks: created on DATABASE_URL's server and
/// dropped afterwards, or a private cluster in a temporary directory when it is unset.
pub async fn with_scratch_database<F, Fut, T>(work: F) -> anyhow::Result<T>
where
    F: FnOnce(ewoda_common::db::PgPool) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    use ewoda_billing::bench::{create_database, drop_database};
    use ewoda_common::services::{ServiceOptions, Services};
    let admin = std::env::var("DATABASE_URL").ok().filter(|s| !s.is_empty());
    let scratch = std::env::temp_dir().join(format!("ewoda-bench-{}", std::process::id()));
    let (services, url, created) = match &admin {
        Some(admin) => {
            let (url, name) = create_database(admin).await?;
            (None, url, Some(name))
        }
        None => {
            let s = Services::start(&ServiceOptions {
                database_url: None,
                mqtt_url: Some(String::new()),
                data_dir: scratch.clone(),
                install_missing: true,
            })?;
            let url = s.database_url.clone();
            (Some(s), url, None)
        }
    };
    println!("database: {}", ewoda_common::db::describe(&url));
    let result = async {
        let pool = ewoda_common::db::connect(&url, 4).await?;
        ewoda_common::db::migrate(&pool).await?;
        let r = work(pool.clone()).await;
        pool.close().await;
        r
    }
    .await;
    if let (Some(admin), Some(name)) = (&admin, &created) {
        drop_database(admin, name).await?;
    }
    if let Some(s) = services {
        s.stop();
        std::fs::remove_dir_all(&scratch).ok();
    }
    result
}

/// Prints an error as one line and maps it to the exit code.
pub fn finish(result: anyhow::Result<()>) -> std::process::ExitCode {
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ewoda: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The multi-threaded runtime every async subcommand runs on.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}
