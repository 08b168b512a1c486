//! Silero VAD (v6, 16 kHz) run with candle: 512-sample chunks of 16 kHz audio
//! (32 ms) → probability of speech, with the network's recurrent state and
//! 64-sample context carried per stream (one stream per call).
//!
//! The network, as `silero_vad/tinygrad_model.py` of the `silero-vad` package
//! defines it over `silero_vad_16k.safetensors`: reflect-pad 64 → STFT as a
//! 256-tap conv (stride 128, real and imaginary halves) → magnitude → four
//! conv1d+ReLU → LSTM cell (128) → ReLU → 1×1 conv → sigmoid.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use candle_core::{DType, Device, Tensor, D};

pub const SAMPLE_RATE: u32 = 16_000;
/// New samples per network step.
pub const CHUNK: usize = 512;
/// Samples of the previous chunk the network sees in front of each chunk.
const CONTEXT: usize = 64;
const REFLECT_PAD: usize = 64;
const STFT_HOP: usize = 128;
const HIDDEN: usize = 128;

pub const WEIGHTS_FILE: &str = "silero_vad_16k.safetensors";

#[derive(Debug, thiserror::Error)]
pub enum VadError {
    #[error("cannot load Silero VAD weights {path}: {message}")]
    Load { path: String, message: String },
    #[error("VAD network: {0}")]
    Tensor(#[from] candle_core::Error),
}

/// `$IVR_VAD_MODEL`, else `models/cache/silero_vad_16k.safetensors` (see
/// [`crate::model::cached_file_path`]).
pub fn default_weights_path() -> PathBuf {
    crate::model::cached_file_path("IVR_VAD_MODEL", WEIGHTS_FILE)
}

struct Conv {
    weight: Tensor,
    bias: Option<Tensor>,
    padding: usize,
    stride: usize,
}

impl Conv {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let y = x.conv1d(&self.weight, self.padding, self.stride, 1, 1)?;
        match &self.bias {
            Some(b) => y.broadcast_add(&b.reshape((1, b.dim(0)?, 1))?),
            None => Ok(y),
        }
    }
}

/// The weights, loaded once and shared by every call's stream.
pub struct SileroVad {
    stft: Conv,
    convs: [Conv; 4],
    w_ih_t: Tensor,
    w_hh_t: Tensor,
    lstm_bias: Tensor,
    final_conv: Conv,
    device: Device,
}

impl SileroVad {
    pub fn load(path: &Path) -> Result<Arc<Self>, VadError> {
        let err = |message: String| VadError::Load { path: path.display().to_string(), message };
        if !path.is_file() {
            return Err(err("no such file (run models/fetch.sh)".into()));
        }
        let device = Device::Cpu;
        let mut w = candle_core::safetensors::load(path, &device).map_err(|e| err(e.to_string()))?;
        let mut take = |name: &str| {
            w.remove(name).ok_or_else(|| err(format!("missing tensor {name}"))).and_then(|t| t.to_dtype(DType::F32).map_err(|e| err(e.to_string())))
        };
        let conv = |weight, bias, padding, stride| Conv { weight, bias, padding, stride };
        let stft = conv(take("stft_conv.weight")?, None, 0, STFT_HOP);
        let convs = [
            conv(take("conv1.weight")?, Some(take("conv1.bias")?), 1, 1),
            conv(take("conv2.weight")?, Some(take("conv2.bias")?), 1, 2),
            conv(take("conv3.weight")?, Some(take("conv3.bias")?), 1, 2),
            conv(take("conv4.weight")?, Some(take("conv4.bias")?), 1, 1),
        ];
        let w_ih_t = take("lstm_cell.weight_ih")?.t().and_then(|t| t.contiguous()).map_err(|e| err(e.to_string()))?;
        let w_hh_t = take("lstm_cell.weight_hh")?.t().and_then(|t| t.contiguous()).map_err(|e| err(e.to_string()))?;
        let lstm_bias = (take("lstm_cell.bias_ih")? + take("lstm_cell.bias_hh")?).map_err(|e| err(e.to_string()))?;
        let final_conv = conv(take("final_conv.weight")?, Some(take("final_conv.bias")?), 0, 1);
        if w_ih_t.dims() != [HIDDEN, 4 * HIDDEN] || w_hh_t.dims() != [HIDDEN, 4 * HIDDEN] {
            return Err(err("unexpected LSTM shape (not the 16 kHz Silero v6 network)".into()));
        }
        Ok(Arc::new(SileroVad { stft, convs, w_ih_t, w_hh_t, lstm_bias, final_conv, device }))
    }

    /// A fresh stream (new call): zero state, zero context.
    pub fn stream(self: &Arc<Self>) -> Result<VadStream, VadError> {
        let zeros = Tensor::zeros((1, HIDDEN), DType::F32, &self.device)?;
        Ok(VadStream { model: Arc::clone(self), h: zeros.clone(), c: zeros, context: vec![0.0; CONTEXT], pending: Vec::new() })
    }

    fn step(&self, input: &[f32], h: &Tensor, c: &Tensor) -> candle_core::Result<(f32, Tensor, Tensor)> {
        // Reflect padding on the right, as torch's F.pad(mode="reflect").
        let mut x = input.to_vec();
        let n = input.len();
        x.extend((0..REFLECT_PAD).map(|i| input[n - 2 - i]));
        let x = Tensor::from_vec(x, (1, 1, n + REFLECT_PAD), &self.device)?;
        let spec = self.stft.forward(&x)?;
        let half = spec.dim(1)? / 2;
        let re = spec.narrow(1, 0, half)?;
        let im = spec.narrow(1, half, half)?;
        let mut x = (re.sqr()? + im.sqr()?)?.sqrt()?;
        for conv in &self.convs {
            x = conv.forward(&x)?.relu()?;
        }
        // [1, 128, 1] → [1, 128]
        let x = x.squeeze(D::Minus1)?;
        let gates = (x.matmul(&self.w_ih_t)? + h.matmul(&self.w_hh_t)?)?.broadcast_add(&self.lstm_bias)?;
        let chunks = gates.chunk(4, 1)?;
        let (i, f, g, o) = (&chunks[0], &chunks[1], &chunks[2], &chunks[3]);
        let sigmoid = |t: &Tensor| (t.neg()?.exp()? + 1.0)?.recip();
        let c_new = ((sigmoid(f)? * c)? + (sigmoid(i)? * g.tanh()?)?)?;
        let h_new = (sigmoid(o)? * c_new.tanh()?)?;
        let y = self.final_conv.forward(&h_new.relu()?.unsqueeze(D::Minus1)?)?;
        let p = sigmoid(&y)?.mean_all()?.to_scalar::<f32>()?;
        Ok((p, h_new, c_new))
    }
}

/// One call's VAD: push 16 kHz audio of any length, get one probability per
/// completed 512-sample chunk.
pub struct VadStream {
    model: Arc<SileroVad>,
    h: Tensor,
    c: Tensor,
    context: Vec<f32>,
    pending: Vec<f32>,
}

impl VadStream {
    pub fn push(&mut self, pcm16k: &[f32]) -> Result<Vec<f32>, VadError> {
        self.pending.extend_from_slice(pcm16k);
        let mut out = Vec::with_capacity(self.pending.len() / CHUNK);
        let mut used = 0;
        while self.pending.len() - used >= CHUNK {
            let mut input = Vec::with_capacity(CONTEXT + CHUNK);
            input.extend_from_slice(&self.context);
            input.extend_from_slice(&self.pending[used..used + CHUNK]);
            let (p, h, c) = self.model.step(&input, &self.h, &self.c)?;
            self.h = h;
            self.c = c;
            self.context.copy_from_slice(&input[input.len() - CONTEXT..]);
            out.push(p);
            used += CHUNK;
        }
        self.pending.drain(..used);
        Ok(out)
    }

    /// Forget everything (e.g. after a long prompt during which input was ignored).
    pub fn reset(&mut self) -> Result<(), VadError> {
        *self = self.model.stream()?;
        Ok(())
    }
}

/// Per-chunk speech probabilities of a whole 16 kHz signal.
pub fn probabilities(vad: &Arc<SileroVad>, pcm16k: &[f32]) -> Result<Vec<f32>, VadError> {
    let mut s = vad.stream()?;
    s.push(pcm16k)
}
