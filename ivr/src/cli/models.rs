//! `ivr models build`: converts the fetched CTranslate2 Whisper model to
//! whisper.cpp ggml f16 and q8_0 (called by `models/fetch.sh`).

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};
use ivr_speech::model::{build, BuildInputs, Pins};

#[derive(Subcommand, Debug)]
pub enum ModelsCommand {
    /// Convert model.bin + mel_filters.npz + multilingual.tiktoken to ggml f16 and q8_0.
    Build(BuildArgs),
}

#[derive(Args, Debug)]
pub struct BuildArgs {
    /// CTranslate2 Whisper model (the joined model.bin).
    #[arg(long)]
    ct2: PathBuf,
    /// `whisper/assets/mel_filters.npz` from the openai-whisper sdist.
    #[arg(long)]
    mel_filters: PathBuf,
    /// `whisper/assets/multilingual.tiktoken` from the openai-whisper sdist.
    #[arg(long)]
    vocab: PathBuf,
    /// Where the ggml files are written.
    #[arg(long)]
    out_dir: PathBuf,
    /// sha256sum-style list pinning inputs and outputs (models/SHA256SUMS).
    #[arg(long)]
    checksums: Option<PathBuf>,
}

pub fn run(cmd: ModelsCommand) -> anyhow::Result<()> {
    match cmd {
        ModelsCommand::Build(a) => {
            let pins = a.checksums.as_deref().map(Pins::load).transpose().context("reading the checksum list")?;
            let inputs = BuildInputs { ct2_model: &a.ct2, mel_filters: &a.mel_filters, vocab: &a.vocab };
            let built = build(&inputs, &a.out_dir, pins.as_ref()).context("model conversion failed")?;
            for b in built.iter().filter(|b| b.converted) {
                eprintln!("models: wrote {} ({} bytes)", b.path.display(), b.bytes);
            }
            Ok(())
        }
    }
}
