//! Band-limited resampling (rubato's FFT resampler) for whole files and for the
//! live path, where 20 ms telephone frames (160 samples at 8 kHz) arrive one by one.

use rubato::{FftFixedInOut, Resampler};

/// The resampler refused its rates (zero, or a ratio it cannot build a filter for).
#[derive(Debug, thiserror::Error)]
#[error("resampling {from_hz} Hz → {to_hz} Hz: {reason}")]
pub struct ResampleError {
    pub from_hz: u32,
    pub to_hz: u32,
    pub reason: String,
}

/// Streaming resampler: push any number of samples, get what is ready.
/// The FFT filter delays its output by `delay()` samples; `Self::resample`
/// removes that for whole signals, live callers just see a constant latency.
pub struct StreamResampler {
    inner: Option<FftFixedInOut<f32>>,
    pending: Vec<f32>,
    out: Vec<Vec<f32>>,
}

/// 20 ms at 8 kHz: one RTP frame per resampler chunk, so each telephone frame
/// comes out as soon as it goes in.
const CHUNK_MS: usize = 20;

impl StreamResampler {
    pub fn new(from_hz: u32, to_hz: u32) -> Result<Self, ResampleError> {
        if from_hz == 0 || to_hz == 0 {
            return Err(ResampleError { from_hz, to_hz, reason: "a rate is zero".into() });
        }
        let inner = if from_hz == to_hz {
            None
        } else {
            let chunk = (from_hz as usize * CHUNK_MS / 1000).max(1);
            let r = FftFixedInOut::new(from_hz as usize, to_hz as usize, chunk, 1).map_err(|e| ResampleError { from_hz, to_hz, reason: e.to_string() })?;
            Some(r)
        };
        let out = inner.as_ref().map(|r| vec![vec![0f32; r.output_frames_max()]]).unwrap_or_default();
        Ok(StreamResampler { inner, pending: Vec::new(), out })
    }

    /// Output samples the filter holds back (0 when the rates are equal).
    pub fn delay(&self) -> usize {
        self.inner.as_ref().map_or(0, |r| r.output_delay())
    }

    pub fn push(&mut self, input: &[f32]) -> Vec<f32> {
        let Some(r) = self.inner.as_mut() else {
            return input.to_vec();
        };
        self.pending.extend_from_slice(input);
        let mut produced = Vec::new();
        let need = r.input_frames_next();
        let mut used = 0;
        while self.pending.len() - used >= need {
            let chunk = [&self.pending[used..used + need]];
            // Buffers are sized from the resampler itself, so this cannot fail;
            // should it, the chunk is dropped rather than panicking mid-call.
            if let Ok((_, n)) = r.process_into_buffer(&chunk, &mut self.out, None) {
                produced.extend_from_slice(&self.out[0][..n]);
            }
            used += need;
        }
        self.pending.drain(..used);
        produced
    }

    /// 16-bit PCM frames (as decoded from G.711) in, f32 in [-1, 1] out.
    pub fn push_i16(&mut self, input: &[i16]) -> Vec<f32> {
        let f: Vec<f32> = input.iter().map(|s| f32::from(*s) / 32768.0).collect();
        self.push(&f)
    }

    /// Drains what is buffered (zero-padded) plus the filter's delay line.
    pub fn flush(&mut self) -> Vec<f32> {
        let Some(r) = self.inner.as_mut() else {
            return Vec::new();
        };
        let mut produced = Vec::new();
        let pending = std::mem::take(&mut self.pending);
        let mut left = pending.len() + r.input_frames_next() * (1 + r.output_delay() / r.output_frames_next().max(1));
        let mut first = Some(pending);
        while left > 0 {
            let chunk = first.take();
            let input = chunk.as_ref().map(|p| [p.as_slice()]);
            match r.process_partial_into_buffer(input.as_ref().map(|c| &c[..]), &mut self.out, None) {
                Ok((_, n)) => produced.extend_from_slice(&self.out[0][..n]),
                Err(_) => break,
            }
            left = left.saturating_sub(r.input_frames_next());
        }
        produced
    }
}

/// Resamples a whole signal, compensating the filter delay so that output
/// sample i lines up with input time i / to_hz, length scaled by the ratio.
pub fn resample(input: &[f32], from_hz: u32, to_hz: u32) -> Result<Vec<f32>, ResampleError> {
    if from_hz == to_hz {
        return Ok(input.to_vec());
    }
    let mut r = StreamResampler::new(from_hz, to_hz)?;
    let delay = r.delay();
    let mut out = r.push(input);
    out.extend(r.flush());
    let want = (input.len() as u64 * u64::from(to_hz) / u64::from(from_hz)) as usize;
    let mut out: Vec<f32> = out.into_iter().skip(delay).collect();
    out.resize(want, 0.0);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(hz: f32, rate: u32, n: usize) -> Vec<f32> {
        (0..n).map(|i| (2.0 * std::f32::consts::PI * hz * i as f32 / rate as f32).sin() * 0.5).collect()
    }

    #[test]
    fn upsampled_tone_keeps_its_frequency_and_alignment() {
        let x = sine(440.0, 8000, 8000);
        let y = resample(&x, 8000, 16000).unwrap();
        assert_eq!(y.len(), 16000);
        let reference = sine(440.0, 16000, 16000);
        // Away from the edges the delay-compensated output matches the ideal tone.
        let err = y[1000..15000].iter().zip(&reference[1000..15000]).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
        assert!(err < 0.01, "max error {err}");
    }

    #[test]
    fn a_tone_above_the_new_nyquist_is_removed_when_downsampling() {
        let x = sine(6000.0, 16000, 16000);
        let y = resample(&x, 16000, 8000).unwrap();
        let rms = (y[500..7500].iter().map(|v| v * v).sum::<f32>() / 7000.0).sqrt();
        assert!(rms < 0.01, "aliased energy {rms}");
    }

    #[test]
    fn streaming_20ms_frames_equals_batch() {
        let x: Vec<i16> = sine(300.0, 8000, 1600).iter().map(|v| (v * 32767.0) as i16).collect();
        let mut s = StreamResampler::new(8000, 16000).unwrap();
        let mut streamed = Vec::new();
        for frame in x.chunks(160) {
            let out = s.push_i16(frame);
            assert_eq!(out.len(), 320, "one 20 ms frame in, one out");
            streamed.extend(out);
        }
        let f: Vec<f32> = x.iter().map(|v| f32::from(*v) / 32768.0).collect();
        let mut b = StreamResampler::new(8000, 16000).unwrap();
        let batch = b.push(&f);
        assert_eq!(streamed, batch);
    }
}
