//! Whisper model supply: CTranslate2 `model.bin` + openai-whisper assets →
//! whisper.cpp ggml f16 and q8_0, every input and output checked against
//! pinned sha256 sums.

pub mod assets;
pub mod convert;
pub mod ctranslate2;
pub mod ggml;
pub mod quantize;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

pub const F16_FILE: &str = "ggml-base-f16.bin";
pub const Q8_0_FILE: &str = "ggml-base-q8_0.bin";

/// The model the bot uses unless told otherwise: `$IVR_MODEL`, else
/// `models/cache/ggml-base-q8_0.bin` (see [`cached_file_path`]).
pub fn default_model_path() -> PathBuf {
    cached_file_path("IVR_MODEL", Q8_0_FILE)
}

/// Where a file made by `models/fetch.sh` is found: `$env` when set, else
/// `models/cache/<file>` under the working directory or, for a binary run from
/// `target/release`, under the checkout it was built in.
pub fn cached_file_path(env: &str, file: &str) -> PathBuf {
    if let Some(p) = std::env::var_os(env) {
        return PathBuf::from(p);
    }
    let rel = Path::new("models").join("cache").join(file);
    if rel.exists() {
        return rel;
    }
    std::env::current_exe().ok().and_then(|exe| exe.ancestors().skip(1).map(|d| d.join(&rel)).find(|p| p.exists())).unwrap_or(rel)
}

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("read error: {0}")]
    Read(std::io::Error),
    #[error("{0}")]
    Format(String),
    #[error("{path}: sha256 {actual}, expected {expected} (corrupt or wrong download: delete it and fetch again)")]
    Checksum { path: PathBuf, expected: String, actual: String },
    #[error("no pinned sha256 for {0} in the checksum list")]
    NotPinned(String),
}

impl ModelError {
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        ModelError::Io { path: path.to_path_buf(), source }
    }

    /// Names the file a format or read error came from.
    pub fn in_file(self, path: &Path) -> Self {
        match self {
            ModelError::Read(e) => ModelError::io(path, e),
            ModelError::Format(m) => ModelError::Format(format!("{}: {m}", path.display())),
            other => other,
        }
    }
}

pub fn sha256_file(path: &Path) -> Result<String, ModelError> {
    let mut f = std::fs::File::open(path).map_err(|e| ModelError::io(path, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(|e| ModelError::io(path, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

/// Pinned sums in `sha256sum` format (`<hex>  <file name>`), keyed by file name.
#[derive(Debug, Default, Clone)]
pub struct Pins(BTreeMap<String, String>);

impl Pins {
    pub fn parse(text: &str) -> Self {
        let map = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .filter_map(|l| {
                let (sum, name) = l.split_once(char::is_whitespace)?;
                Some((name.trim().trim_start_matches('*').to_string(), sum.to_ascii_lowercase()))
            })
            .collect();
        Pins(map)
    }

    pub fn load(path: &Path) -> Result<Self, ModelError> {
        Ok(Self::parse(&std::fs::read_to_string(path).map_err(|e| ModelError::io(path, e))?))
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// Checks `path` against the sum pinned for `name`.
    pub fn verify(&self, path: &Path, name: &str) -> Result<(), ModelError> {
        let expected = self.get(name).ok_or_else(|| ModelError::NotPinned(name.to_string()))?;
        let actual = sha256_file(path)?;
        if actual != expected {
            return Err(ModelError::Checksum { path: path.to_path_buf(), expected: expected.to_string(), actual });
        }
        Ok(())
    }
}

pub struct BuildInputs<'a> {
    pub ct2_model: &'a Path,
    pub mel_filters: &'a Path,
    pub vocab: &'a Path,
}

#[derive(Debug)]
pub struct Built {
    pub path: PathBuf,
    pub bytes: u64,
    /// false when a verified file was already there.
    pub converted: bool,
}

/// Converts to `out_dir/{F16_FILE, Q8_0_FILE}`. With pins, inputs are checked
/// first and outputs after; outputs already present with the pinned sum are kept.
pub fn build(inputs: &BuildInputs, out_dir: &Path, pins: Option<&Pins>) -> Result<Vec<Built>, ModelError> {
    let f16_path = out_dir.join(F16_FILE);
    let q8_path = out_dir.join(Q8_0_FILE);
    let up_to_date = |p: &Path, name: &str| pins.is_some_and(|pins| p.exists() && pins.verify(p, name).is_ok());
    if up_to_date(&f16_path, F16_FILE) && up_to_date(&q8_path, Q8_0_FILE) {
        return [f16_path, q8_path]
            .into_iter()
            .map(|path| {
                let bytes = std::fs::metadata(&path).map_err(|e| ModelError::io(&path, e))?.len();
                Ok(Built { path, bytes, converted: false })
            })
            .collect();
    }
    if let Some(pins) = pins {
        pins.verify(inputs.ct2_model, "model.bin")?;
        pins.verify(inputs.mel_filters, "mel_filters.npz")?;
        pins.verify(inputs.vocab, "multilingual.tiktoken")?;
    }
    std::fs::create_dir_all(out_dir).map_err(|e| ModelError::io(out_dir, e))?;
    let ct2 = ctranslate2::Ct2Model::open(inputs.ct2_model)?;
    let n_mels = ct2.get("encoder/conv1/weight")?.shape.get(1).copied().unwrap_or(80);
    let mel = assets::read_mel_filters(inputs.mel_filters, n_mels)?;
    let vocab = assets::read_tiktoken(inputs.vocab)?;
    let f16_model = convert::convert(&ct2, mel, vocab)?;
    drop(ct2);
    f16_model.save(&f16_path)?;
    let q8_model = quantize::quantize_model(&f16_model)?;
    drop(f16_model);
    q8_model.save(&q8_path)?;
    let mut built = Vec::new();
    for (path, name) in [(f16_path, F16_FILE), (q8_path, Q8_0_FILE)] {
        if let Some(pins) = pins {
            pins.verify(&path, name)?;
        }
        let bytes = std::fs::metadata(&path).map_err(|e| ModelError::io(&path, e))?.len();
        built.push(Built { path, bytes, converted: true });
    }
    Ok(built)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_parse_sha256sum_format_and_detect_mismatch() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.bin");
        std::fs::write(&p, b"abc").unwrap();
        let pins = Pins::parse("# comment\nba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  x.bin\n0000  y.bin\n");
        pins.verify(&p, "x.bin").unwrap();
        assert!(matches!(pins.verify(&p, "y.bin"), Err(ModelError::Checksum { .. })));
        assert!(matches!(pins.verify(&p, "z.bin"), Err(ModelError::NotPinned(_))));
    }
}
