//! whisper.cpp's legacy ggml model file, byte for byte as
//! `models/convert-pt-to-ggml.py` writes it and `whisper_model_load` reads it:
//! magic, 11 i32 hparams, mel filters, vocabulary, then tensors
//! `(n_dims, name_len, ttype, ne[0..n_dims] innermost first, name, data)`.

use std::io::{Read, Write};
use std::path::Path;

use super::ModelError;

pub const MAGIC: u32 = 0x6767_6d6c;
/// whisper.cpp stores `GGML_QNT_VERSION * GGML_QNT_VERSION_FACTOR + ftype` in the
/// header of quantized files.
pub const QNT_VERSION: i32 = 2;
pub const QNT_VERSION_FACTOR: i32 = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hparams {
    pub n_vocab: i32,
    pub n_audio_ctx: i32,
    pub n_audio_state: i32,
    pub n_audio_head: i32,
    pub n_audio_layer: i32,
    pub n_text_ctx: i32,
    pub n_text_state: i32,
    pub n_text_head: i32,
    pub n_text_layer: i32,
    pub n_mels: i32,
    pub ftype: i32,
}

impl Hparams {
    fn fields(&self) -> [i32; 11] {
        [
            self.n_vocab,
            self.n_audio_ctx,
            self.n_audio_state,
            self.n_audio_head,
            self.n_audio_layer,
            self.n_text_ctx,
            self.n_text_state,
            self.n_text_head,
            self.n_text_layer,
            self.n_mels,
            self.ftype,
        ]
    }
}

/// ggml tensor types used here (values of `enum ggml_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TensorType {
    F32,
    F16,
    Q8_0,
}

impl TensorType {
    pub fn id(self) -> i32 {
        match self {
            TensorType::F32 => 0,
            TensorType::F16 => 1,
            TensorType::Q8_0 => 8,
        }
    }

    fn from_id(id: i32) -> Result<Self, ModelError> {
        match id {
            0 => Ok(TensorType::F32),
            1 => Ok(TensorType::F16),
            8 => Ok(TensorType::Q8_0),
            other => Err(ModelError::Format(format!("unsupported ggml tensor type {other}"))),
        }
    }

    /// Bytes for `n` elements (`n` a multiple of 32 for q8_0).
    pub fn bytes_for(self, n: usize) -> usize {
        match self {
            TensorType::F32 => n * 4,
            TensorType::F16 => n * 2,
            TensorType::Q8_0 => n / super::quantize::Q8_0_BLOCK * super::quantize::Q8_0_BLOCK_BYTES,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct MelFilters {
    pub n_mel: usize,
    pub n_fft: usize,
    pub data: Vec<f32>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    pub name: String,
    /// Shape in numpy order (outermost first); the file stores it reversed.
    pub shape: Vec<usize>,
    pub ttype: TensorType,
    pub data: Vec<u8>,
}

impl Tensor {
    pub fn elements(&self) -> usize {
        self.shape.iter().product()
    }

    /// The values as f32 (f32 and f16 tensors only).
    pub fn to_f32(&self) -> Result<Vec<f32>, ModelError> {
        match self.ttype {
            TensorType::F32 => Ok(self.data.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()),
            TensorType::F16 => Ok(self.data.chunks_exact(2).map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32()).collect()),
            TensorType::Q8_0 => Ok(super::quantize::dequantize_q8_0(&self.data)),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct GgmlModel {
    pub hparams: Hparams,
    pub mel: MelFilters,
    pub vocab: Vec<Vec<u8>>,
    pub tensors: Vec<Tensor>,
}

impl GgmlModel {
    pub fn tensor(&self, name: &str) -> Option<&Tensor> {
        self.tensors.iter().find(|t| t.name == name)
    }

    pub fn save(&self, path: &Path) -> Result<(), ModelError> {
        // Write beside the target then rename: a killed build never leaves a
        // half-written model where the recognizer would load it.
        let tmp = path.with_extension("partial");
        let f = std::fs::File::create(&tmp).map_err(|e| ModelError::io(&tmp, e))?;
        let mut w = std::io::BufWriter::new(f);
        self.write_to(&mut w).map_err(|e| ModelError::io(&tmp, e))?;
        w.flush().map_err(|e| ModelError::io(&tmp, e))?;
        drop(w);
        std::fs::rename(&tmp, path).map_err(|e| ModelError::io(path, e))
    }

    pub fn write_to<W: Write>(&self, w: &mut W) -> std::io::Result<()> {
        w.write_all(&MAGIC.to_le_bytes())?;
        for v in self.hparams.fields() {
            w.write_all(&v.to_le_bytes())?;
        }
        w.write_all(&(self.mel.n_mel as i32).to_le_bytes())?;
        w.write_all(&(self.mel.n_fft as i32).to_le_bytes())?;
        for v in &self.mel.data {
            w.write_all(&v.to_le_bytes())?;
        }
        w.write_all(&(self.vocab.len() as i32).to_le_bytes())?;
        for token in &self.vocab {
            w.write_all(&(token.len() as i32).to_le_bytes())?;
            w.write_all(token)?;
        }
        for t in &self.tensors {
            let name = t.name.as_bytes();
            w.write_all(&(t.shape.len() as i32).to_le_bytes())?;
            w.write_all(&(name.len() as i32).to_le_bytes())?;
            w.write_all(&t.ttype.id().to_le_bytes())?;
            for d in t.shape.iter().rev() {
                w.write_all(&(*d as i32).to_le_bytes())?;
            }
            w.write_all(name)?;
            w.write_all(&t.data)?;
        }
        Ok(())
    }

    pub fn open(path: &Path) -> Result<Self, ModelError> {
        let f = std::fs::File::open(path).map_err(|e| ModelError::io(path, e))?;
        Self::read(std::io::BufReader::new(f)).map_err(|e| e.in_file(path))
    }

    pub fn read<R: Read>(mut r: R) -> Result<Self, ModelError> {
        if read_i32(&mut r)? as u32 != MAGIC {
            return Err(ModelError::Format("not a ggml model (bad magic)".into()));
        }
        let mut f = [0i32; 11];
        for v in f.iter_mut() {
            *v = read_i32(&mut r)?;
        }
        let hparams = Hparams {
            n_vocab: f[0],
            n_audio_ctx: f[1],
            n_audio_state: f[2],
            n_audio_head: f[3],
            n_audio_layer: f[4],
            n_text_ctx: f[5],
            n_text_state: f[6],
            n_text_head: f[7],
            n_text_layer: f[8],
            n_mels: f[9],
            ftype: f[10],
        };
        let n_mel = read_len(&mut r, 1 << 10)?;
        let n_fft = read_len(&mut r, 1 << 14)?;
        let mel_bytes = read_bytes(&mut r, n_mel * n_fft * 4)?;
        let data = mel_bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
        let mel = MelFilters { n_mel, n_fft, data };
        let n_tokens = read_len(&mut r, 1 << 20)?;
        let mut vocab = Vec::with_capacity(n_tokens.min(1 << 17));
        for _ in 0..n_tokens {
            let len = read_len(&mut r, 1 << 12)?;
            vocab.push(read_bytes(&mut r, len)?);
        }
        let mut tensors = Vec::new();
        loop {
            let mut first = [0u8; 4];
            match r.read(&mut first).map_err(ModelError::Read)? {
                0 => break,
                n if n < 4 => r.read_exact(&mut first[n..]).map_err(ModelError::Read)?,
                _ => {}
            }
            let n_dims = i32::from_le_bytes(first);
            if !(1..=4).contains(&n_dims) {
                return Err(ModelError::Format(format!("tensor with {n_dims} dims")));
            }
            let name_len = read_len(&mut r, 1 << 10)?;
            let ttype = TensorType::from_id(read_i32(&mut r)?)?;
            let mut shape = Vec::with_capacity(n_dims as usize);
            for _ in 0..n_dims {
                shape.push(read_len(&mut r, 1 << 24)?);
            }
            shape.reverse();
            let name = String::from_utf8(read_bytes(&mut r, name_len)?).map_err(|_| ModelError::Format("tensor name is not UTF-8".into()))?;
            let n: usize = shape.iter().product();
            let data = read_bytes(&mut r, ttype.bytes_for(n))?;
            tensors.push(Tensor { name, shape, ttype, data });
        }
        Ok(GgmlModel { hparams, mel, vocab, tensors })
    }
}

fn read_i32<R: Read>(r: &mut R) -> Result<i32, ModelError> {
    let mut b = [0u8; 4];
    r.read_exact(&mut b).map_err(ModelError::Read)?;
    Ok(i32::from_le_bytes(b))
}

fn read_len<R: Read>(r: &mut R, max: usize) -> Result<usize, ModelError> {
    let v = read_i32(r)?;
    usize::try_from(v).ok().filter(|v| *v <= max).ok_or_else(|| ModelError::Format(format!("implausible length {v} in ggml file")))
}

fn read_bytes<R: Read>(r: &mut R, n: usize) -> Result<Vec<u8>, ModelError> {
    let mut data = Vec::new();
    r.take(n as u64).read_to_end(&mut data).map_err(ModelError::Read)?;
    if data.len() != n {
        return Err(ModelError::Format("truncated ggml file".into()));
    }
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> GgmlModel {
        GgmlModel {
            hparams: Hparams {
                n_vocab: 3,
                n_audio_ctx: 2,
                n_audio_state: 4,
                n_audio_head: 1,
                n_audio_layer: 1,
                n_text_ctx: 2,
                n_text_state: 4,
                n_text_head: 1,
                n_text_layer: 1,
                n_mels: 2,
                ftype: 1,
            },
            mel: MelFilters { n_mel: 2, n_fft: 2, data: vec![0.5, 1.0, -1.0, 2.0] },
            vocab: vec![b"a".to_vec(), b" le".to_vec()],
            tensors: vec![Tensor {
                name: "encoder.conv1.bias".into(),
                shape: vec![4, 1],
                ttype: TensorType::F32,
                data: [1f32, 2., 3., 4.].iter().flat_map(|v| v.to_le_bytes()).collect(),
            }],
        }
    }

    #[test]
    fn write_then_read_is_identity_and_dims_are_reversed_on_disk() {
        let m = sample();
        let mut bytes = Vec::new();
        m.write_to(&mut bytes).unwrap();
        assert_eq!(&bytes[0..4], &MAGIC.to_le_bytes());
        // header 48 + mel 8+16 + vocab 4+5+7 → first tensor; its ne[0] is the innermost dim (1).
        let t = 48 + 24 + 16;
        assert_eq!(i32::from_le_bytes(bytes[t + 12..t + 16].try_into().unwrap()), 1);
        assert_eq!(i32::from_le_bytes(bytes[t + 16..t + 20].try_into().unwrap()), 4);
        assert_eq!(GgmlModel::read(&bytes[..]).unwrap(), m);
        assert!(GgmlModel::read(&bytes[..bytes.len() - 3]).is_err());
    }
}
