//! The `dsm` command.
#![forbid(unsafe_code)]

mod demo;

use clap::{Parser, Subcommand, ValueEnum};
use dsm_core::crypto::SuiteId;
use std::process::ExitCode;

/// DSM — post-quantum, offline-capable transfers of value between devices, without
/// global consensus.
#[derive(Parser)]
#[command(name = "dsm", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the protocol end to end in this process and narrate it: genesis ceremonies,
    /// bilateral transfers with real post-quantum signatures, every receipt verified, and
    /// an offline double spend caught by Tripwire when the two victims meet.
    ///
    /// Nothing is written to disk and nothing is sent over a network. The DEMO token is
    /// allocated by a clearly labelled non-production allocation.
    Demo {
        /// Signature suite for every device.
        #[arg(long, value_enum, default_value_t = Suite::MlDsa65)]
        suite: Suite,
        /// Seed for all keys and genesis entropy, so runs are reproducible (demo only:
        /// real wallets draw keys from the operating system).
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Suite {
    /// ML-DSA-65 (FIPS 204): fast, the default.
    #[value(name = "ml-dsa-65")]
    MlDsa65,
    /// SLH-DSA-SHA2-128f (FIPS 205): hash-based, conservative, slower.
    #[value(name = "slh-dsa-sha2-128f")]
    SlhDsa,
}

impl From<Suite> for SuiteId {
    fn from(s: Suite) -> SuiteId {
        match s {
            Suite::MlDsa65 => SuiteId::MlDsa65,
            Suite::SlhDsa => SuiteId::SlhDsaSha2_128f,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo { suite, seed } => demo::run(suite.into(), seed, &mut std::io::stdout()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
