//! The `omicsdb` command-line tool: ingest, query, serve, train, materialize.

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    omicsdb_model::malloc::tune();
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(cli::materialize::exit_code(&e))
        }
    }
}
