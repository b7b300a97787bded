//! One module per subcommand: argument structs and a call into a library.

pub mod bench;
pub mod bill;
pub mod billing;
pub mod collect;
pub mod decode;
pub mod demo;
pub mod dunning;
pub mod payments;
pub mod rates;
pub mod sim;

/// Runs an async command on a multi-threaded runtime and maps its result to the exit code.
pub fn block_on(
    command: impl std::future::Future<Output = anyhow::Result<()>>,
) -> std::process::ExitCode {
    finish(
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(anyhow::Error::from)
            .and_then(|rt| rt.block_on(command)),
    )
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
