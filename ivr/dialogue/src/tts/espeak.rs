//! espeak-ng as an external command (GPL-3: run, never linked). Robotic, but always
//! installable; used when the Pico voice files are missing.

use std::io::Cursor;
use std::process::Command;

use super::{Pcm, TtsError, Voice};

#[derive(Debug, Clone)]
pub struct EspeakVoice {
    program: String,
    version: String,
}

impl EspeakVoice {
    pub fn french() -> Result<Self, TtsError> {
        let program = "espeak-ng".to_string();
        let out = Command::new(&program).arg("--version").output().map_err(|e| TtsError::Unavailable { voice: "espeak-ng", reason: e.to_string() })?;
        let version = String::from_utf8_lossy(&out.stdout).split_whitespace().take(4).collect::<Vec<_>>().join(" ");
        Ok(EspeakVoice { program, version })
    }
}

impl Voice for EspeakVoice {
    fn id(&self) -> String {
        format!("espeak-ng:fr:{}", self.version)
    }

    fn synthesize(&self, text: &str) -> Result<Pcm, TtsError> {
        let fail = |reason: String| TtsError::Synthesis { voice: "espeak-ng", reason };
        // Text goes as an argument after "--" so it is never read as an option.
        let out = Command::new(&self.program).args(["-v", "fr", "-s", "150", "--stdout", "--"]).arg(text).output().map_err(|e| fail(e.to_string()))?;
        if !out.status.success() {
            return Err(fail(String::from_utf8_lossy(&out.stderr).into_owned()));
        }
        let reader = hound::WavReader::new(Cursor::new(out.stdout)).map_err(|e| fail(e.to_string()))?;
        let spec = reader.spec();
        if spec.bits_per_sample != 16 || spec.channels != 1 {
            return Err(fail(format!("unexpected output format {spec:?}")));
        }
        // espeak-ng streams its WAV with a placeholder (huge) data length: read until
        // the bytes end instead of trusting the header.
        let samples: Vec<i16> = reader.into_samples::<i16>().map_while(Result::ok).collect();
        Ok(Pcm { rate: spec.sample_rate, samples })
    }
}
