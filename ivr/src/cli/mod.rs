//! Command-line surface. One module per subcommand family; this file only dispatches.

use clap::{Parser, Subcommand};

mod bench;
mod classify;
mod console;
mod knowledge;
mod models;
mod prompts;
mod report;
mod requests;
mod serve;
mod switch;
mod transcribe;

#[derive(Parser, Debug)]
#[command(name = "ivr", version, about = "3230 voicebot: SIP answering module for choix 2 and 3")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Whisper model supply (conversion to whisper.cpp ggml).
    #[command(subcommand)]
    Models(models::ModelsCommand),
    /// Content files: `ivr knowledge check` validates knowledge/ and prompts/.
    #[command(subcommand)]
    Knowledge(knowledge::KnowledgeCommand),
    /// Intent of each stdin line (one JSON decision per line).
    Classify(classify::ClassifyArgs),
    /// Transcribe WAV files with Whisper: one JSON line per file.
    Transcribe(transcribe::TranscribeArgs),
    /// Benchmarks (asr, ...).
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Rendered audio of prompts and answers: `ivr prompts render`.
    #[command(subcommand)]
    Prompts(prompts::PromptsCommand),
    /// SC3.2 accounting: figures, exports, day close, chain verification, purge.
    Report(report::ReportArgs),
    /// Procedure requests for agents: `ivr requests list|show|done|export|purge`.
    #[command(subcommand)]
    Requests(requests::RequestsCommand),
    /// Answer SIP calls (UDP): the conversation (recognizer, matcher, dialogue, accounting), the console and /metrics.
    Serve(serve::ServeArgs),
    /// Web console accounts and audit log: `ivr console user add NAME --role ROLE`.
    #[command(subcommand)]
    Console(console::ConsoleCommand),
    /// Runtime messages of `ivr serve`: `ivr switch show`, `ivr switch set crisis on`.
    #[command(subcommand)]
    Switch(switch::SwitchCommand),
}

pub fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    // IVR_LOG, else RUST_LOG, else info. No level logs personal data (DESIGN §8).
    let filter = EnvFilter::try_from_env("IVR_LOG").or_else(|_| EnvFilter::try_from_default_env()).unwrap_or_else(|_| EnvFilter::new("info,tantivy=warn"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Models(cmd) => models::run(cmd),
        Command::Knowledge(cmd) => knowledge::run(cmd),
        Command::Classify(args) => classify::run(args),
        Command::Transcribe(args) => transcribe::run(args),
        Command::Bench(cmd) => bench::run(cmd),
        Command::Report(args) => report::run(args),
        Command::Prompts(cmd) => prompts::run(cmd),
        Command::Requests(cmd) => requests::run(cmd),
        Command::Serve(args) => serve::run(args),
        Command::Console(cmd) => console::run(cmd),
        Command::Switch(cmd) => switch::run(cmd),
    }
}
