//! `ivr transcribe` end to end with the converted model: real French speech
//! (Asterisk prompts, 8 kHz) as PCM, 16 kHz and A-law WAV; silence gives empty
//! text; a bad file gives one error line naming it while the others go on.

use std::path::{Path, PathBuf};
use std::process::Command;

const PROMPT: &str = "/usr/share/asterisk/sounds/fr/all-circuits-busy-now.wav";

fn ivr() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ivr"));
    c.current_dir(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".."));
    c.env_remove("IVR_MODEL");
    c
}

fn sox(input: &str, output: &Path, args: &[&str]) {
    let st = Command::new("sox").arg(input).args(args).arg(output).status().expect("sox installed");
    assert!(st.success());
}

/// 1.5 s of 8 kHz 16-bit mono digital silence.
fn silent_wav(path: &Path) {
    let samples = 12_000u32;
    let mut b = b"RIFF".to_vec();
    b.extend_from_slice(&(36 + samples * 2).to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    b.extend_from_slice(&16u32.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&8000u32.to_le_bytes());
    b.extend_from_slice(&16000u32.to_le_bytes());
    b.extend_from_slice(&2u16.to_le_bytes());
    b.extend_from_slice(&16u16.to_le_bytes());
    b.extend_from_slice(b"data");
    b.extend_from_slice(&(samples * 2).to_le_bytes());
    b.resize(b.len() + samples as usize * 2, 0);
    std::fs::write(path, b).unwrap();
}

#[derive(serde::Deserialize)]
struct Line {
    file: String,
    text: String,
    audio_ms: u64,
    asr_ms: u64,
}

fn words(s: &str) -> String {
    ivr_speech::eval::normalize(s).join(" ")
}

#[test]
fn transcribes_8k_16k_alaw_and_silence_and_survives_bad_files() {
    let dir = tempfile::tempdir().unwrap();
    let wide = dir.path().join("wide.wav");
    let alaw = dir.path().join("alaw.wav");
    let silent = dir.path().join("silent.wav");
    let truncated = dir.path().join("truncated.wav");
    let missing = dir.path().join("missing.wav");
    sox(PROMPT, &wide, &["-r", "16000"]);
    sox(PROMPT, &alaw, &["-e", "a-law"]);
    silent_wav(&silent);
    let bytes = std::fs::read(PROMPT).unwrap();
    std::fs::write(&truncated, &bytes[..30]).unwrap();

    let out = ivr().args(["transcribe", "--threads", "2", PROMPT]).args([&truncated, &wide, &missing, &alaw, &silent]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "bad files make the exit status non-zero");
    let lines: Vec<Line> = stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 4, "{stdout}\n{stderr}");
    let expected = words("Toutes les lignes sont occupées pour l'instant");
    for l in &lines[..3] {
        assert_eq!(words(&l.text), expected, "{}", l.file);
        assert!((2000..2300).contains(&l.audio_ms), "{}: {} ms", l.file, l.audio_ms);
        assert!(l.asr_ms > 0);
    }
    assert!(lines[2].file.ends_with("alaw.wav"));
    assert_eq!(lines[3].text, "", "silence must give empty text");
    assert_eq!(lines[3].asr_ms, 0, "silence is never shown to the model");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("ivr transcribe:")).collect();
    assert_eq!(errors.len(), 2, "{stderr}");
    assert!(errors[0].contains("truncated.wav") && errors[1].contains("missing.wav"), "{stderr}");
}
