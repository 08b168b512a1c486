//! `ivr bench …`: measurements of the parts of the service, one module per part.

use clap::Subcommand;

mod asr;
mod call;
mod events;
mod flood;
mod nlu;
mod server_child;
mod sip;
mod understanding;

#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// Speech recognition: WER and real-time factor on the French telephone test set.
    Asr(asr::AsrBenchArgs),
    /// A conversation as callers hear it: end of speech → first answer audio, p50/p95 at 1 and N callers.
    Call(call::CallBenchArgs),
    /// Accounting store: events/s on SQLite and PostgreSQL, record() latency on the media path.
    Events(events::EventsArgs),
    /// Intent matcher: index build time, p50/p99 latency, utterances/s (and --loo-every N).
    Nlu(nlu::NluBenchArgs),
    /// SIP/RTP load: concurrent calls with playback, RTP jitter p99, memory per call.
    Sip(sip::SipBenchArgs),
    /// Spoken understanding: utterances spoken by the prompt voice through a phone line,
    /// transcribed and classified as in service; accuracy, unsafe answers, refusals, WER.
    Understanding(understanding::UnderstandingArgs),
}

pub fn run(cmd: BenchCommand) -> anyhow::Result<()> {
    match cmd {
        BenchCommand::Asr(a) => asr::run(a),
        BenchCommand::Call(a) => call::run(a),
        BenchCommand::Events(a) => events::run(a),
        BenchCommand::Nlu(a) => nlu::run(a),
        BenchCommand::Sip(a) => sip::run(a),
        BenchCommand::Understanding(a) => understanding::run(a),
    }
}
