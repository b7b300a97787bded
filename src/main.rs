//! The `ewoda` command: parses arguments and dispatches into the crates' libraries.

mod cmd;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// mimalloc instead of glibc's malloc: the portal allocates per request on every worker
/// thread, and glibc's arenas took a fifth of its CPU under load (perf, `bench portal`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(
    name = "ewoda",
    version,
    about = "Meter-to-cash platform for water utilities"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start everything with a seeded demo utility and print the URL and logins.
    Demo(cmd::demo::Args),
    /// Serve the portal on an existing database (DATABASE_URL), no demo seed.
    Serve(cmd::serve::Args),
    /// Portal users: `user add --role ROLE LOGIN` creates a staff user.
    User {
        #[command(subcommand)]
        command: cmd::user::Command,
    },
    /// Apply database migrations (to DATABASE_URL or the private cluster).
    Migrate(cmd::demo::MigrateArgs),
    /// Install missing server packages (PostgreSQL, Mosquitto) with apt-get; needs root.
    Setup,
    /// Decode wM-Bus / M-Bus telegrams (arguments or one hex telegram per line on stdin).
    Decode(cmd::decode::Args),
    /// Run the collector (sources → validation → storage) or import a reading-set file.
    Collect(cmd::collect::Args),
    /// Run the simulated fleet on its transports (ptys, Modbus, MQTT, files) until stopped.
    Sim(cmd::sim::Args),
    /// Billing calculations without a database.
    Billing {
        #[command(subcommand)]
        command: cmd::billing::Command,
    },
    /// Billing run for a month: stored preview, --approve RUN, --issue-run RUN, or --issue.
    Bill(cmd::bill::Args),
    /// Reminders, interest notes, their PDFs and the KSeF XML of issued invoices.
    Dunning {
        #[command(subcommand)]
        command: cmd::dunning::Command,
    },
    /// Bank statements, the unmatched-payment queue and refund export (DATABASE_URL).
    Payments {
        #[command(subcommand)]
        command: cmd::payments::Command,
    },
    /// KSeF acknowledgements (`ksef ack FILE`: UPO or number list).
    Ksef {
        #[command(subcommand)]
        command: cmd::ksef::Command,
    },
    /// NBP exchange and reference rates (`rates import FILE`).
    Rates {
        #[command(subcommand)]
        command: cmd::rates::Command,
    },
    /// Benchmarks; each prints its figure as its last line.
    Bench {
        #[command(subcommand)]
        command: cmd::bench::Command,
    },
}

fn main() -> ExitCode {
    init_tracing();
    let cli = Cli::parse();
    match cli.command {
        Command::Demo(args) => cmd::demo::run(args),
        Command::Serve(args) => cmd::serve::run(args),
        Command::User { command } => cmd::user::run(command),
        Command::Migrate(args) => cmd::demo::migrate(args),
        Command::Setup => cmd::demo::setup(),
        Command::Decode(args) => cmd::decode::run(args),
        Command::Collect(args) => cmd::collect::run(args),
        Command::Sim(args) => cmd::sim::run(args),
        Command::Billing { command } => cmd::billing::run(command),
        Command::Bill(args) => cmd::bill::run(args),
        Command::Dunning { command } => cmd::dunning::run(command),
        Command::Bench { command } => cmd::bench::run(command),
        Command::Payments { command } => cmd::payments::run(command),
        Command::Rates { command } => cmd::rates::run(command),
        Command::Ksef { command } => cmd::ksef::run(command),
    }
}

fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("EWODA_LOG")
        .unwrap_or_else(|_| EnvFilter::new("warn,sqlx=error,ewoda=info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}
