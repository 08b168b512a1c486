//! `ivr`: the 3230 voicebot binary. Each subcommand lives in its own module under `cli/`.

mod cli;
mod service;

use clap::Parser;

fn main() -> anyhow::Result<()> {
    let args = cli::Cli::parse();
    cli::init_tracing();
    cli::run(args)
}
