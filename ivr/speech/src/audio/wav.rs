//! WAV reading: PCM through hound; G.711 A-law (format 6) and µ-law (format 7),
//! which hound does not read, through a small RIFF chunk walk of our own.
//! Multi-channel files are averaged to mono.

use std::path::Path;

use super::{g711, Audio, AudioError};

const FORMAT_ALAW: u16 = 6;
const FORMAT_MULAW: u16 = 7;

pub fn read_wav(path: &Path) -> Result<Audio, AudioError> {
    let bytes = std::fs::read(path).map_err(|e| file_err(path, e.to_string()))?;
    read_wav_bytes(&bytes).map_err(|e| file_err(path, e.to_string()))
}

fn file_err(path: &Path, message: String) -> AudioError {
    AudioError::File { path: path.display().to_string(), message }
}

pub fn read_wav_bytes(bytes: &[u8]) -> Result<Audio, AudioError> {
    let fmt =
        riff_chunks(bytes)?.into_iter().find(|(id, _)| id == b"fmt ").map(|(_, body)| body).ok_or_else(|| AudioError::Malformed("no fmt chunk".into()))?;
    if fmt.len() < 16 {
        return Err(AudioError::Malformed("fmt chunk too short".into()));
    }
    let format = u16::from_le_bytes([fmt[0], fmt[1]]);
    if format == FORMAT_ALAW || format == FORMAT_MULAW {
        return read_g711(bytes, fmt, format);
    }
    read_pcm(bytes)
}

fn read_pcm(bytes: &[u8]) -> Result<Audio, AudioError> {
    let reader = hound::WavReader::new(std::io::Cursor::new(bytes)).map_err(|e| match e {
        hound::Error::Unsupported => AudioError::Unsupported("hound cannot read this WAV format".into()),
        other => AudioError::Malformed(other.to_string()),
    })?;
    let spec = reader.spec();
    let channels = usize::from(spec.channels.max(1));
    let interleaved: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => reader.into_samples::<f32>().collect::<Result<_, _>>().map_err(|e| AudioError::Malformed(e.to_string()))?,
        hound::SampleFormat::Int => {
            let scale = 1.0 / (1i64 << (spec.bits_per_sample.clamp(1, 32) - 1)) as f32;
            reader.into_samples::<i32>().map(|s| s.map(|v| v as f32 * scale)).collect::<Result<_, _>>().map_err(|e| AudioError::Malformed(e.to_string()))?
        }
    };
    Ok(Audio { rate: spec.sample_rate, samples: downmix(&interleaved, channels) })
}

fn read_g711(bytes: &[u8], fmt: &[u8], format: u16) -> Result<Audio, AudioError> {
    let channels = usize::from(u16::from_le_bytes([fmt[2], fmt[3]]).max(1));
    let rate = u32::from_le_bytes([fmt[4], fmt[5], fmt[6], fmt[7]]);
    let bits = u16::from_le_bytes([fmt[14], fmt[15]]);
    if bits != 8 || rate == 0 {
        return Err(AudioError::Unsupported(format!("G.711 WAV with {bits} bits at {rate} Hz")));
    }
    let data =
        riff_chunks(bytes)?.into_iter().find(|(id, _)| id == b"data").map(|(_, body)| body).ok_or_else(|| AudioError::Malformed("no data chunk".into()))?;
    let decode = if format == FORMAT_ALAW { g711::alaw_to_linear } else { g711::ulaw_to_linear };
    let interleaved: Vec<f32> = data.iter().map(|b| f32::from(decode(*b)) / 32768.0).collect();
    Ok(Audio { rate, samples: downmix(&interleaved, channels) })
}

fn downmix(interleaved: &[f32], channels: usize) -> Vec<f32> {
    if channels == 1 {
        return interleaved.to_vec();
    }
    interleaved.chunks_exact(channels).map(|f| f.iter().sum::<f32>() / channels as f32).collect()
}

/// A RIFF chunk: its four-letter id and its body.
type Chunk<'a> = ([u8; 4], &'a [u8]);

/// The chunks of a RIFF/WAVE file. A data chunk whose size runs past the end
/// (a recording cut short) is clipped rather than refused.
fn riff_chunks(b: &[u8]) -> Result<Vec<Chunk<'_>>, AudioError> {
    if b.len() < 12 || &b[0..4] != b"RIFF" || &b[8..12] != b"WAVE" {
        return Err(AudioError::Malformed("not a RIFF/WAVE file".into()));
    }
    let mut chunks = Vec::new();
    let mut at = 12;
    while at + 8 <= b.len() {
        let id = [b[at], b[at + 1], b[at + 2], b[at + 3]];
        let size = u32::from_le_bytes([b[at + 4], b[at + 5], b[at + 6], b[at + 7]]) as usize;
        let start = at + 8;
        let end = start.saturating_add(size).min(b.len());
        chunks.push((id, &b[start..end]));
        at = end + (size & 1);
    }
    Ok(chunks)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wav_header(format: u16, rate: u32, bits: u16, data: &[u8]) -> Vec<u8> {
        let mut b = b"RIFF".to_vec();
        b.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
        b.extend_from_slice(b"WAVEfmt ");
        b.extend_from_slice(&16u32.to_le_bytes());
        b.extend_from_slice(&format.to_le_bytes());
        b.extend_from_slice(&1u16.to_le_bytes());
        b.extend_from_slice(&rate.to_le_bytes());
        b.extend_from_slice(&(rate * u32::from(bits) / 8).to_le_bytes());
        b.extend_from_slice(&(bits / 8).to_le_bytes());
        b.extend_from_slice(&bits.to_le_bytes());
        b.extend_from_slice(b"data");
        b.extend_from_slice(&(data.len() as u32).to_le_bytes());
        b.extend_from_slice(data);
        b
    }

    #[test]
    fn pcm16_8k_is_read_and_scaled() {
        let data: Vec<u8> = [0i16, 16384, -32768].iter().flat_map(|v| v.to_le_bytes()).collect();
        let a = read_wav_bytes(&wav_header(1, 8000, 16, &data)).unwrap();
        assert_eq!(a.rate, 8000);
        assert_eq!(a.samples, vec![0.0, 0.5, -1.0]);
    }

    #[test]
    fn alaw_and_ulaw_wav_are_decoded() {
        let a = read_wav_bytes(&wav_header(6, 8000, 8, &[0xd5, 0xaa])).unwrap();
        assert_eq!(a.samples, vec![8.0 / 32768.0, 32256.0 / 32768.0]);
        let u = read_wav_bytes(&wav_header(7, 8000, 8, &[0xff, 0x80])).unwrap();
        assert_eq!(u.samples, vec![0.0, 32124.0 / 32768.0]);
    }

    #[test]
    fn garbage_and_truncated_headers_are_errors() {
        assert!(read_wav_bytes(b"hello world, not a wav").is_err());
        let full = wav_header(1, 8000, 16, &[0, 0, 1, 0]);
        assert!(read_wav_bytes(&full[..20]).is_err());
    }
}
