//! The converted Whisper models (built by models/fetch.sh): header, layout and
//! tensor contents checked against the CTranslate2 source, byte for byte
//! where the conversion copies and within the q8_0 bound where it quantizes.

use std::path::PathBuf;

use ivr_speech::model::ctranslate2::Ct2Model;
use ivr_speech::model::ggml::{GgmlModel, TensorType};
use ivr_speech::model::{Pins, F16_FILE, Q8_0_FILE};

fn models_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models")
}

fn ct2_source() -> PathBuf {
    let cache =
        std::env::var_os("IVR_CACHE").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/ivr"));
    cache.join("whisper-base/model.bin")
}

fn f16_bytes(v: &[u8]) -> Vec<f32> {
    v.chunks_exact(2).map(|c| half_to_f32(u16::from_le_bytes([c[0], c[1]]))).collect()
}

// IEEE half → f32, written out so the test does not lean on the converter's own helper.
fn half_to_f32(h: u16) -> f32 {
    let sign = if h & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exp = i32::from((h >> 10) & 0x1f);
    let frac = f32::from(h & 0x3ff);
    sign * match exp {
        0 => frac * 2f32.powi(-24),
        31 => f32::INFINITY,
        e => (1.0 + frac / 1024.0) * 2f32.powi(e - 15),
    }
}

#[test]
fn f16_model_matches_the_ctranslate2_source() {
    let ggml = GgmlModel::open(&models_dir().join("cache").join(F16_FILE)).expect("run models/fetch.sh first");
    let ct2 = Ct2Model::open(&ct2_source()).expect("CTranslate2 model.bin in the download cache");

    let h = ggml.hparams;
    assert_eq!((h.n_vocab, h.n_audio_ctx, h.n_audio_state, h.n_audio_head, h.n_audio_layer), (51865, 1500, 512, 8, 6));
    assert_eq!((h.n_text_ctx, h.n_text_state, h.n_text_head, h.n_text_layer, h.n_mels, h.ftype), (448, 512, 8, 6, 80, 1));
    assert_eq!((ggml.mel.n_mel, ggml.mel.n_fft), (80, 201));
    assert_eq!(ggml.vocab.len(), 50257);
    assert_eq!(ggml.vocab[0], b"!");
    assert_eq!(ggml.tensors.len(), 245);

    // Self-attention: the key is the middle third of the fused QKV matrix.
    let qkv = ct2.get("encoder/layer_3/self_attention/linear_0/weight").unwrap();
    let n = 512 * 512 * 2;
    let key = ggml.tensor("encoder.blocks.3.attn.key.weight").unwrap();
    assert_eq!((key.ttype, key.shape.as_slice()), (TensorType::F16, &[512, 512][..]));
    assert_eq!(key.data, qkv.data[n..2 * n]);
    assert_eq!(ggml.tensor("encoder.blocks.3.attn.value.weight").unwrap().data, qkv.data[2 * n..]);
    // Whisper's key projection has no bias: none is written.
    assert!(ggml.tensor("encoder.blocks.3.attn.key.bias").is_none());
    // Cross-attention value bias: second half of the fused K/V bias, widened to f32.
    let kv_bias = ct2.get("decoder/layer_5/attention/linear_1/bias").unwrap();
    let vb = ggml.tensor("decoder.blocks.5.cross_attn.value.bias").unwrap();
    assert_eq!(vb.ttype, TensorType::F32);
    assert_eq!(vb.to_f32().unwrap(), f16_bytes(&kv_bias.data[1024..]));
    // Conv bias stored as [n, 1] in f32; token embedding shared with the output projection.
    let cb = ggml.tensor("encoder.conv1.bias").unwrap();
    assert_eq!((cb.ttype, cb.shape.as_slice()), (TensorType::F32, &[512, 1][..]));
    assert_eq!(ggml.tensor("decoder.token_embedding.weight").unwrap().data, ct2.get("decoder/projection/weight").unwrap().data);
}

#[test]
fn q8_0_model_is_close_to_f16_and_keeps_small_tensors_exact() {
    let f16 = GgmlModel::open(&models_dir().join("cache").join(F16_FILE)).expect("run models/fetch.sh first");
    let q8 = GgmlModel::open(&models_dir().join("cache").join(Q8_0_FILE)).expect("run models/fetch.sh first");
    assert_eq!(q8.hparams.ftype, 2007, "GGML_QNT_VERSION 2 * 1000 + MOSTLY_Q8_0");
    assert_eq!(q8.tensors.len(), f16.tensors.len());
    for (a, b) in f16.tensors.iter().zip(&q8.tensors) {
        assert_eq!(a.name, b.name);
        let quantized = a.shape.len() == 2 && !a.name.contains("positional_embedding") && !a.name.contains("conv");
        assert_eq!(b.ttype == TensorType::Q8_0, quantized, "{}", a.name);
        if !quantized {
            assert_eq!(a.data, b.data, "{} must be copied", a.name);
        }
    }
    let w = f16.tensor("decoder.blocks.2.mlp.0.weight").unwrap().to_f32().unwrap();
    let q = q8.tensor("decoder.blocks.2.mlp.0.weight").unwrap().to_f32().unwrap();
    for (block_w, block_q) in w.chunks(32).zip(q.chunks(32)) {
        let amax = block_w.iter().fold(0f32, |m, v| m.max(v.abs()));
        for (x, y) in block_w.iter().zip(block_q) {
            assert!((x - y).abs() <= amax / 127.0 * 0.5 + amax * 1e-3, "{x} vs {y}");
        }
    }
}

#[test]
fn outputs_match_their_pinned_checksums() {
    let pins = Pins::load(&models_dir().join("SHA256SUMS")).unwrap();
    for f in [F16_FILE, Q8_0_FILE] {
        pins.verify(&models_dir().join("cache").join(f), f).unwrap();
    }
}
