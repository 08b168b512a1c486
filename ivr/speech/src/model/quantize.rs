//! q8_0 quantization as ggml's `quantize_row_q8_0_ref` does it (blocks of 32
//! values: one f16 scale `d = max|x| / 127`, then 32 `round(x / d)` as i8), and
//! the tensor selection of whisper.cpp's `examples/quantize`: every 2-D tensor
//! except the conv biases and the positional embeddings.

use half::f16;

use super::ggml::{GgmlModel, TensorType, QNT_VERSION, QNT_VERSION_FACTOR};
use super::ModelError;

pub const Q8_0_BLOCK: usize = 32;
pub const Q8_0_BLOCK_BYTES: usize = 2 + Q8_0_BLOCK;
/// `GGML_FTYPE_MOSTLY_Q8_0`.
pub const FTYPE_Q8_0: i32 = 7;

const NOT_QUANTIZED: [&str; 4] = ["encoder.conv1.bias", "encoder.conv2.bias", "encoder.positional_embedding", "decoder.positional_embedding"];

/// `values.len()` must be a multiple of 32 (ggml rows of Whisper are 512/2048 wide).
pub fn quantize_q8_0(values: &[f32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(values.len() / Q8_0_BLOCK * Q8_0_BLOCK_BYTES);
    for block in values.chunks_exact(Q8_0_BLOCK) {
        let amax = block.iter().fold(0f32, |m, v| m.max(v.abs()));
        let d = amax / 127.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        out.extend_from_slice(&f16::from_f32(d).to_le_bytes());
        out.extend(block.iter().map(|v| (v * id).round() as i8 as u8));
    }
    out
}

pub fn dequantize_q8_0(bytes: &[u8]) -> Vec<f32> {
    let mut out = Vec::with_capacity(bytes.len() / Q8_0_BLOCK_BYTES * Q8_0_BLOCK);
    for block in bytes.chunks_exact(Q8_0_BLOCK_BYTES) {
        let d = f16::from_le_bytes([block[0], block[1]]).to_f32();
        out.extend(block[2..].iter().map(|q| f32::from(*q as i8) * d));
    }
    out
}

/// The q8_0 model of an f16/f32 ggml model, as whisper.cpp's quantize tool makes it.
pub fn quantize_model(model: &GgmlModel) -> Result<GgmlModel, ModelError> {
    let mut out = model.clone();
    out.hparams.ftype = QNT_VERSION * QNT_VERSION_FACTOR + FTYPE_Q8_0;
    for t in out.tensors.iter_mut() {
        let quantize = t.shape.len() == 2 && !NOT_QUANTIZED.contains(&t.name.as_str());
        if !quantize {
            continue;
        }
        let row = t.shape[1];
        if row % Q8_0_BLOCK != 0 {
            return Err(ModelError::Format(format!("{}: row length {row} is not a multiple of {Q8_0_BLOCK}", t.name)));
        }
        t.data = quantize_q8_0(&t.to_f32()?);
        t.ttype = TensorType::Q8_0;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_error_is_within_half_a_step_per_block() {
        let values: Vec<f32> = (0..256).map(|i| ((i as f32) * 0.37).sin() * (1.0 + (i / 32) as f32)).collect();
        let q = quantize_q8_0(&values);
        assert_eq!(q.len(), 8 * Q8_0_BLOCK_BYTES);
        let back = dequantize_q8_0(&q);
        for (block, restored) in values.chunks(32).zip(back.chunks(32)) {
            let amax = block.iter().fold(0f32, |m, v| m.max(v.abs()));
            // half a quantization step, plus the f16 rounding of the scale
            let bound = amax / 127.0 * 0.5 + amax * 1e-3;
            for (a, b) in block.iter().zip(restored) {
                assert!((a - b).abs() <= bound, "{a} vs {b} (bound {bound})");
            }
        }
    }

    #[test]
    fn zero_block_has_zero_scale_and_extremes_map_to_127() {
        let mut v = vec![0f32; 64];
        v[40] = -3.0;
        v[41] = 3.0;
        let q = quantize_q8_0(&v);
        assert_eq!(&q[..Q8_0_BLOCK_BYTES], &[0u8; Q8_0_BLOCK_BYTES][..]);
        assert_eq!(q[Q8_0_BLOCK_BYTES + 2 + 8] as i8, -127);
        assert_eq!(q[Q8_0_BLOCK_BYTES + 2 + 9] as i8, 127);
    }
}
