//! 8 kHz telephone audio files: band-limited down-sampling and WAV I/O.

use std::path::Path;

use crate::tts::Pcm;

/// The telephone rate every rendered file has.
pub const PHONE_RATE: u32 = 8_000;

#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    #[error("resampling {from} Hz → {to} Hz: {reason}")]
    Resample { from: u32, to: u32, reason: String },
    #[error("{path}: {reason}")]
    Wav { path: String, reason: String },
}

/// Resample a whole signal (the shared band-limited resampler of `ivr_audio`: its
/// low-pass filter removes what would alias above 4 kHz; the filter delay is compensated).
pub fn resample(pcm: &Pcm, to: u32) -> Result<Pcm, AudioError> {
    if pcm.rate == to || pcm.samples.is_empty() {
        return Ok(Pcm { rate: to, samples: pcm.samples.clone() });
    }
    let input: Vec<f32> = pcm.samples.iter().map(|s| f32::from(*s) / 32768.0).collect();
    let out = ivr_audio::resample(&input, pcm.rate, to).map_err(|e| AudioError::Resample { from: pcm.rate, to, reason: e.reason })?;
    let samples = out.into_iter().map(|v| (v * 32768.0).round().clamp(-32768.0, 32767.0) as i16).collect();
    Ok(Pcm { rate: to, samples })
}

pub fn write_wav(path: &Path, pcm: &Pcm) -> Result<(), AudioError> {
    let err = |reason: String| AudioError::Wav { path: path.display().to_string(), reason };
    let spec = hound::WavSpec { channels: 1, sample_rate: pcm.rate, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
    let mut w = hound::WavWriter::create(path, spec).map_err(|e| err(e.to_string()))?;
    for s in &pcm.samples {
        w.write_sample(*s).map_err(|e| err(e.to_string()))?;
    }
    w.finalize().map_err(|e| err(e.to_string()))
}

/// Read a WAV (16-bit or float, any channel count: channels are averaged).
pub fn read_wav(path: &Path) -> Result<Pcm, AudioError> {
    let err = |reason: String| AudioError::Wav { path: path.display().to_string(), reason };
    let reader = hound::WavReader::open(path).map_err(|e| err(e.to_string()))?;
    let spec = reader.spec();
    let channels = usize::from(spec.channels.max(1));
    let interleaved: Vec<f32> = match (spec.sample_format, spec.bits_per_sample) {
        (hound::SampleFormat::Int, 16) => reader.into_samples::<i16>().map(|s| s.map(|v| f32::from(v) / 32768.0)).collect::<Result<_, _>>(),
        (hound::SampleFormat::Int, bits @ (24 | 32)) => {
            let scale = (1u64 << (bits - 1)) as f32;
            reader.into_samples::<i32>().map(|s| s.map(|v| v as f32 / scale)).collect::<Result<_, _>>()
        }
        (hound::SampleFormat::Float, 32) => reader.into_samples::<f32>().collect::<Result<_, _>>(),
        other => return Err(err(format!("unsupported sample format {other:?}"))),
    }
    .map_err(|e| err(e.to_string()))?;
    let samples =
        interleaved.chunks(channels).map(|frame| (frame.iter().sum::<f32>() / channels as f32 * 32768.0).round().clamp(-32768.0, 32767.0) as i16).collect();
    Ok(Pcm { rate: spec.sample_rate, samples })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(hz: f32, rate: u32, n: usize) -> Pcm {
        let samples = (0..n).map(|i| ((2.0 * std::f32::consts::PI * hz * i as f32 / rate as f32).sin() * 16000.0) as i16).collect();
        Pcm { rate, samples }
    }

    fn rms(s: &[i16]) -> f64 {
        (s.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / s.len().max(1) as f64).sqrt()
    }

    #[test]
    fn speech_band_passes_and_alias_band_is_removed() {
        let low = resample(&tone(1000.0, 16000, 16000), PHONE_RATE).unwrap();
        assert_eq!(low.samples.len(), 8000);
        assert!(rms(&low.samples[500..7500]) > 10000.0, "1 kHz kept");
        // 6 kHz would fold to 2 kHz without a low-pass filter.
        let high = resample(&tone(6000.0, 16000, 16000), PHONE_RATE).unwrap();
        assert!(rms(&high.samples[500..7500]) < 300.0, "6 kHz removed: {}", rms(&high.samples[500..7500]));
    }

    #[test]
    fn wav_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.wav");
        let pcm = tone(440.0, PHONE_RATE, 800);
        write_wav(&path, &pcm).unwrap();
        assert_eq!(read_wav(&path).unwrap(), pcm);
    }
}
