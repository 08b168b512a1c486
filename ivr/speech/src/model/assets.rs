//! The two Whisper assets taken from the openai-whisper sdist: the mel filter
//! bank (`mel_filters.npz`, a zip of `.npy` arrays) and the byte-level BPE
//! vocabulary (`multilingual.tiktoken`: base64 token, space, rank per line).

use std::io::Read;
use std::path::Path;

use base64::Engine;

use super::ggml::MelFilters;
use super::ModelError;

/// Reads the `mel_{n_mels}` array of a Whisper `mel_filters.npz`.
pub fn read_mel_filters(path: &Path, n_mels: usize) -> Result<MelFilters, ModelError> {
    let f = std::fs::File::open(path).map_err(|e| ModelError::io(path, e))?;
    let mut zip = zip::ZipArchive::new(f).map_err(|e| ModelError::Format(format!("{}: {e}", path.display())))?;
    let entry = format!("mel_{n_mels}.npy");
    let mut npy = Vec::new();
    zip.by_name(&entry).map_err(|e| ModelError::Format(format!("{}: {entry}: {e}", path.display())))?.read_to_end(&mut npy).map_err(ModelError::Read)?;
    let (shape, data) = parse_npy_f32(&npy).map_err(|e| e.in_file(path))?;
    match shape[..] {
        [n_mel, n_fft] if n_mel == n_mels => Ok(MelFilters { n_mel, n_fft, data }),
        _ => Err(ModelError::Format(format!("{}: {entry} has shape {shape:?}", path.display()))),
    }
}

/// A C-order little-endian f32 `.npy` array (format versions 1–3).
pub fn parse_npy_f32(b: &[u8]) -> Result<(Vec<usize>, Vec<f32>), ModelError> {
    let bad = |m: &str| ModelError::Format(format!("npy: {m}"));
    if b.len() < 10 || &b[..6] != b"\x93NUMPY" {
        return Err(bad("bad magic"));
    }
    let (header_len, start) = match b[6] {
        1 => (u16::from_le_bytes([b[8], b[9]]) as usize, 10),
        2 | 3 if b.len() >= 12 => (u32::from_le_bytes([b[8], b[9], b[10], b[11]]) as usize, 12),
        _ => return Err(bad("unknown version")),
    };
    let header = b.get(start..start + header_len).ok_or_else(|| bad("truncated header"))?;
    let header = std::str::from_utf8(header).map_err(|_| bad("header is not text"))?;
    if !header.contains("'descr': '<f4'") {
        return Err(bad("only little-endian float32 arrays are supported"));
    }
    if !header.contains("'fortran_order': False") {
        return Err(bad("Fortran-order arrays are not supported"));
    }
    let shape_text = header.split("'shape': (").nth(1).and_then(|s| s.split(')').next()).ok_or_else(|| bad("no shape"))?;
    let shape = shape_text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<usize>().map_err(|_| bad("bad shape")))
        .collect::<Result<Vec<_>, _>>()?;
    let body = &b[start + header_len..];
    let n: usize = shape.iter().product();
    if body.len() != n * 4 {
        return Err(bad("data length does not match the shape"));
    }
    let data = body.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
    Ok((shape, data))
}

/// Tokens in rank order; ranks must run 0, 1, 2… without gaps, as whisper.cpp
/// assigns ids by position.
pub fn read_tiktoken(path: &Path) -> Result<Vec<Vec<u8>>, ModelError> {
    let text = std::fs::read_to_string(path).map_err(|e| ModelError::io(path, e))?;
    parse_tiktoken(&text).map_err(|e| e.in_file(path))
}

pub fn parse_tiktoken(text: &str) -> Result<Vec<Vec<u8>>, ModelError> {
    let mut tokens = Vec::new();
    for (i, line) in text.lines().filter(|l| !l.is_empty()).enumerate() {
        let bad = |m: &str| ModelError::Format(format!("tiktoken line {}: {m}", i + 1));
        let (token, rank) = line.split_once(' ').ok_or_else(|| bad("expected `token rank`"))?;
        let rank: usize = rank.trim().parse().map_err(|_| bad("rank is not a number"))?;
        if rank != i {
            return Err(bad("ranks are not consecutive"));
        }
        // Python's lenient b64decode is what wrote these: the last token is a lone
        // "=" (an empty token), so padding is dropped before a strict decode.
        let bytes = base64::engine::general_purpose::STANDARD_NO_PAD.decode(token.trim_end_matches('=')).map_err(|_| bad("bad base64"))?;
        tokens.push(bytes);
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiktoken_decodes_base64_in_rank_order() {
        let t = parse_tiktoken("IQ== 0\nIGxl 1\n= 2\n").unwrap();
        assert_eq!(t, vec![b"!".to_vec(), b" le".to_vec(), Vec::new()]);
        assert!(parse_tiktoken("IQ== 0\nIGxl 2\n").is_err());
    }

    #[test]
    fn npy_v1_float32_is_parsed() {
        let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
        let mut b = b"\x93NUMPY\x01\x00".to_vec();
        b.extend_from_slice(&(header.len() as u16).to_le_bytes());
        b.extend_from_slice(header.as_bytes());
        for v in 0..6 {
            b.extend_from_slice(&(v as f32 * 0.5).to_le_bytes());
        }
        let (shape, data) = parse_npy_f32(&b).unwrap();
        assert_eq!(shape, vec![2, 3]);
        assert_eq!(data[5], 2.5);
        assert!(parse_npy_f32(&b[..b.len() - 1]).is_err());
    }
}
