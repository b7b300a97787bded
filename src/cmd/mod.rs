//! One module per subcommand: argument structs and a call into a library.

pub mod bench;
pub mod bill;
pub mod billing;
pub mod collect;
pub mod decode;
pub mod demo;
pub mod dunning;
pub mod payments;
pub mod serve;
pub mod sim;
pub mod user;

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
