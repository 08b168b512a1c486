//! CTranslate2 `WhisperSpec` → whisper.cpp ggml (f16), following
//! `models/convert-pt-to-ggml.py`: PyTorch state-dict names and order, 1-D
//! tensors, conv biases (stored as `[n, 1]`) and positional embeddings in f32,
//! every other tensor in f16.
//!
//! CTranslate2 fuses what Whisper keeps apart: self-attention Q/K/V is one
//! `[3n, n]` matrix and the cross-attention K/V one `[2n, n]` matrix; the fused
//! bias holds zeros for the key, which Whisper's key projection does not have.

use half::f16;

use super::ctranslate2::{Ct2Model, DType, Variable};
use super::ggml::{GgmlModel, Hparams, MelFilters, Tensor, TensorType};
use super::ModelError;

/// ggml ftype of the converted file (`GGML_FTYPE_MOSTLY_F16`).
pub const FTYPE_F16: i32 = 1;

pub fn convert(ct2: &Ct2Model, mel: MelFilters, vocab: Vec<Vec<u8>>) -> Result<GgmlModel, ModelError> {
    if ct2.spec != "WhisperSpec" {
        return Err(ModelError::Format(format!("expected a WhisperSpec model, found {}", ct2.spec)));
    }
    let emb = ct2.get("decoder/embeddings/weight")?;
    let enc_pos = ct2.get("encoder/position_encodings/encodings")?;
    let dec_pos = ct2.get("decoder/position_encodings/encodings")?;
    let conv1 = ct2.get("encoder/conv1/weight")?;
    let hparams = Hparams {
        n_vocab: dim(emb, 0)?,
        n_audio_ctx: dim(enc_pos, 0)?,
        n_audio_state: dim(enc_pos, 1)?,
        n_audio_head: ct2.get("encoder/num_heads")?.as_int()? as i32,
        n_audio_layer: ct2.layer_count("encoder") as i32,
        n_text_ctx: dim(dec_pos, 0)?,
        n_text_state: dim(dec_pos, 1)?,
        n_text_head: ct2.get("decoder/num_heads")?.as_int()? as i32,
        n_text_layer: ct2.layer_count("decoder") as i32,
        n_mels: dim(conv1, 1)?,
        ftype: FTYPE_F16,
    };
    if mel.n_mel != hparams.n_mels as usize {
        return Err(ModelError::Format(format!("{} mel filters for a {}-mel model", mel.n_mel, hparams.n_mels)));
    }
    let mut out = Out { tensors: Vec::new() };

    out.whole("encoder.positional_embedding", enc_pos)?;
    out.whole("encoder.conv1.weight", conv1)?;
    out.conv_bias("encoder.conv1.bias", ct2.get("encoder/conv1/bias")?)?;
    out.whole("encoder.conv2.weight", ct2.get("encoder/conv2/weight")?)?;
    out.conv_bias("encoder.conv2.bias", ct2.get("encoder/conv2/bias")?)?;
    for i in 0..hparams.n_audio_layer {
        let src = format!("encoder/layer_{i}");
        let dst = format!("encoder.blocks.{i}");
        out.fused_attention(ct2, &format!("{src}/self_attention"), &format!("{dst}.attn"), 3)?;
        out.layer_norm(ct2, &format!("{src}/self_attention/layer_norm"), &format!("{dst}.attn_ln"))?;
        out.mlp(ct2, &src, &dst)?;
    }
    out.layer_norm(ct2, "encoder/layer_norm", "encoder.ln_post")?;

    out.whole("decoder.positional_embedding", dec_pos)?;
    out.whole("decoder.token_embedding.weight", emb)?;
    for i in 0..hparams.n_text_layer {
        let src = format!("decoder/layer_{i}");
        let dst = format!("decoder.blocks.{i}");
        out.fused_attention(ct2, &format!("{src}/self_attention"), &format!("{dst}.attn"), 3)?;
        out.layer_norm(ct2, &format!("{src}/self_attention/layer_norm"), &format!("{dst}.attn_ln"))?;
        out.fused_attention(ct2, &format!("{src}/attention"), &format!("{dst}.cross_attn"), 2)?;
        out.layer_norm(ct2, &format!("{src}/attention/layer_norm"), &format!("{dst}.cross_attn_ln"))?;
        out.mlp(ct2, &src, &dst)?;
    }
    out.layer_norm(ct2, "decoder/layer_norm", "decoder.ln")?;

    Ok(GgmlModel { hparams, mel, vocab, tensors: out.tensors })
}

fn dim(v: &Variable, i: usize) -> Result<i32, ModelError> {
    v.shape.get(i).map(|d| *d as i32).ok_or_else(|| ModelError::Format(format!("{} has no dimension {i}", v.name)))
}

struct Out {
    tensors: Vec<Tensor>,
}

impl Out {
    /// Stores `elements` of `v` starting at element `from` under `name`.
    fn push(&mut self, name: &str, v: &Variable, shape: Vec<usize>, from: usize) -> Result<(), ModelError> {
        if v.dtype != DType::F16 && v.dtype != DType::F32 {
            return Err(ModelError::Format(format!("{}: unsupported dtype {:?}", v.name, v.dtype)));
        }
        let n: usize = shape.iter().product();
        let size = v.dtype.size();
        let bytes = v.data.get(from * size..(from + n) * size).ok_or_else(|| ModelError::Format(format!("{}: slice out of range for {name}", v.name)))?;
        let want_f32 =
            shape.len() < 2 || matches!(name, "encoder.conv1.bias" | "encoder.conv2.bias" | "encoder.positional_embedding" | "decoder.positional_embedding");
        let (ttype, data) = match (want_f32, v.dtype) {
            (true, DType::F16) => (TensorType::F32, bytes.chunks_exact(2).flat_map(|c| f16::from_le_bytes([c[0], c[1]]).to_f32().to_le_bytes()).collect()),
            (false, DType::F32) => {
                (TensorType::F16, bytes.chunks_exact(4).flat_map(|c| f16::from_f32(f32::from_le_bytes([c[0], c[1], c[2], c[3]])).to_le_bytes()).collect())
            }
            (true, _) => (TensorType::F32, bytes.to_vec()),
            (false, _) => (TensorType::F16, bytes.to_vec()),
        };
        self.tensors.push(Tensor { name: name.to_string(), shape, ttype, data });
        Ok(())
    }

    fn whole(&mut self, name: &str, v: &Variable) -> Result<(), ModelError> {
        self.push(name, v, v.shape.clone(), 0)
    }

    fn conv_bias(&mut self, name: &str, v: &Variable) -> Result<(), ModelError> {
        self.push(name, v, vec![v.elements(), 1], 0)
    }

    fn linear(&mut self, ct2: &Ct2Model, src: &str, dst: &str) -> Result<(), ModelError> {
        self.whole(&format!("{dst}.weight"), ct2.get(&format!("{src}/weight"))?)?;
        self.whole(&format!("{dst}.bias"), ct2.get(&format!("{src}/bias"))?)
    }

    fn layer_norm(&mut self, ct2: &Ct2Model, src: &str, dst: &str) -> Result<(), ModelError> {
        self.whole(&format!("{dst}.weight"), ct2.get(&format!("{src}/gamma"))?)?;
        self.whole(&format!("{dst}.bias"), ct2.get(&format!("{src}/beta"))?)
    }

    fn mlp(&mut self, ct2: &Ct2Model, src: &str, dst: &str) -> Result<(), ModelError> {
        self.linear(ct2, &format!("{src}/ffn/linear_0"), &format!("{dst}.mlp.0"))?;
        self.linear(ct2, &format!("{src}/ffn/linear_1"), &format!("{dst}.mlp.2"))?;
        self.layer_norm(ct2, &format!("{src}/ffn/layer_norm"), &format!("{dst}.mlp_ln"))
    }

    /// `parts == 3`: self-attention, `linear_0` = [Q;K;V], `linear_1` = out.
    /// `parts == 2`: cross-attention, `linear_0` = Q, `linear_1` = [K;V], `linear_2` = out.
    fn fused_attention(&mut self, ct2: &Ct2Model, src: &str, dst: &str, parts: usize) -> Result<(), ModelError> {
        let (fused_w, fused_b, out) = if parts == 3 {
            (format!("{src}/linear_0"), format!("{src}/linear_0"), format!("{src}/linear_1"))
        } else {
            self.linear(ct2, &format!("{src}/linear_0"), &format!("{dst}.query"))?;
            (format!("{src}/linear_1"), format!("{src}/linear_1"), format!("{src}/linear_2"))
        };
        let w = ct2.get(&format!("{fused_w}/weight"))?;
        let b = ct2.get(&format!("{fused_b}/bias"))?;
        let (rows, cols) = match w.shape[..] {
            [r, c] if r % parts == 0 && b.elements() == r => (r / parts, c),
            _ => return Err(ModelError::Format(format!("{}: not a fused {parts}-way projection", w.name))),
        };
        let names: &[&str] = if parts == 3 { &["query", "key", "value"] } else { &["key", "value"] };
        for (k, part) in names.iter().enumerate() {
            self.push(&format!("{dst}.{part}.weight"), w, vec![rows, cols], k * rows * cols)?;
            if *part == "key" {
                ensure_zero(b, k * rows, rows)?;
            } else {
                self.push(&format!("{dst}.{part}.bias"), b, vec![rows], k * rows)?;
            }
        }
        self.linear(ct2, &out, &format!("{dst}.out"))
    }
}

/// The key block of a fused bias must be zero: dropping a non-zero bias would
/// silently change the model.
fn ensure_zero(v: &Variable, from: usize, n: usize) -> Result<(), ModelError> {
    let size = v.dtype.size();
    let bytes = v.data.get(from * size..(from + n) * size).unwrap_or(&[]);
    // f16/f32 zero is all-zero bits except for -0.0 (sign bit only).
    let nonzero = bytes.chunks_exact(size).any(|c| {
        let mut c = c.to_vec();
        if let Some(last) = c.last_mut() {
            *last &= 0x7f;
        }
        c.iter().any(|b| *b != 0)
    });
    if nonzero || bytes.len() != n * size {
        return Err(ModelError::Format(format!("{}: the key bias block is not zero", v.name)));
    }
    Ok(())
}
