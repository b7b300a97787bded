//! `ewoda billing quote|interest|account` (SPEC §5): reads the input, calls the billing
//! library, prints one JSON value on stdout and exits with its code.

use std::io::Read;
use std::process::ExitCode;

/// The `ewoda billing` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Compute one invoice from a JSON description, without a database.
    Quote {
        /// Input JSON file, or - (or nothing) for stdin.
        file: Option<String>,
    },
    /// Statutory late-payment interest for one payment.
    Interest {
        /// Input JSON file, or - (or nothing) for stdin.
        file: Option<String>,
    },
    /// Print a customer's virtual IBAN, or check an IBAN (exit 0 valid, 1 not).
    Account(AccountArgs),
}

/// `ewoda billing account` flags: make an IBAN or check one.
#[derive(Debug, clap::Args)]
#[command(group = clap::ArgGroup::new("mode").required(true).args(["check", "settlement"]))]
pub struct AccountArgs {
    /// The bank branch's 8-digit settlement number.
    #[arg(long, requires_all = ["prefix", "customer"], conflicts_with = "check")]
    settlement: Option<String>,
    /// The utility's client prefix (digits).
    #[arg(long)]
    prefix: Option<String>,
    /// The customer number to embed.
    #[arg(long)]
    customer: Option<u64>,
    /// An IBAN to check (electronic or print form).
    #[arg(long)]
    check: Option<String>,
}

/// Runs one billing subcommand; exit 0 ok, 1 invalid IBAN (`--check`), 2 invalid input.
pub fn run(command: Command) -> ExitCode {
    let (output, code) = match command {
        Command::Quote { file } => with_input(file, ewoda_billing::quote::run_quote),
        Command::Interest { file } => with_input(file, ewoda_billing::interest::run_interest),
        Command::Account(args) => match (args.check, args.settlement, args.prefix, args.customer) {
            (Some(iban), ..) => ewoda_billing::account::run_check(&iban),
            (None, Some(settlement), Some(prefix), Some(customer)) => {
                ewoda_billing::account::run_account(&settlement, &prefix, customer)
            }
            _ => (
                serde_json::json!({"error": "account: give --check or --settlement, --prefix and --customer"}),
                2,
            ),
        },
    };
    // The IBAN is printed bare (electronic form), everything else as one JSON object.
    match output {
        serde_json::Value::String(s) => println!("{s}"),
        other => println!("{other}"),
    }
    ExitCode::from(code)
}

fn with_input(
    file: Option<String>,
    f: fn(&str) -> (serde_json::Value, u8),
) -> (serde_json::Value, u8) {
    let mut text = String::new();
    let read = match file.as_deref() {
        None | Some("-") => std::io::stdin().read_to_string(&mut text).map(|_| ()),
        Some(path) => std::fs::read_to_string(path).map(|t| text = t),
    };
    match read {
        Ok(()) => f(&text),
        Err(e) => (serde_json::json!({"error": format!("input: {e}")}), 2),
    }
}
