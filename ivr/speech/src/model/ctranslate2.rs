//! Reader for CTranslate2 `model.bin` files (binary version 6, as written by
//! `ctranslate2/specs/model_spec.py::_serialize`): a header, named variables each
//! with shape, dtype and raw little-endian bytes, then aliases.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use super::ModelError;

/// CTranslate2 `DataType` ids, in the order of `_dtype_to_type_id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DType {
    F32,
    I8,
    I16,
    I32,
    F16,
    Bf16,
}

impl DType {
    fn from_id(id: u8) -> Result<Self, ModelError> {
        Ok(match id {
            0 => DType::F32,
            1 => DType::I8,
            2 => DType::I16,
            3 => DType::I32,
            4 => DType::F16,
            5 => DType::Bf16,
            other => return Err(ModelError::Format(format!("unknown CTranslate2 dtype id {other}"))),
        })
    }

    pub fn size(self) -> usize {
        match self {
            DType::I8 => 1,
            DType::I16 | DType::F16 | DType::Bf16 => 2,
            DType::F32 | DType::I32 => 4,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Variable {
    pub name: String,
    pub shape: Vec<usize>,
    pub dtype: DType,
    pub data: Vec<u8>,
}

impl Variable {
    pub fn elements(&self) -> usize {
        self.shape.iter().product()
    }

    /// Scalar integer attribute (e.g. `encoder/num_heads`), whatever its integer width.
    pub fn as_int(&self) -> Result<i64, ModelError> {
        let b = &self.data;
        let v = match (self.dtype, b.len()) {
            (DType::I8, 1) => i64::from(b[0] as i8),
            (DType::I16, 2) => i64::from(i16::from_le_bytes([b[0], b[1]])),
            (DType::I32, 4) => i64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])),
            _ => return Err(ModelError::Format(format!("{} is not an integer scalar", self.name))),
        };
        Ok(v)
    }
}

#[derive(Debug)]
pub struct Ct2Model {
    pub spec: String,
    pub revision: u32,
    pub binary_version: u32,
    pub variables: BTreeMap<String, Variable>,
    /// alias name → target variable name (e.g. `decoder/projection/weight` → the embeddings).
    pub aliases: BTreeMap<String, String>,
}

const SUPPORTED_BINARY_VERSION: u32 = 6;

impl Ct2Model {
    pub fn open(path: &Path) -> Result<Self, ModelError> {
        let f = std::fs::File::open(path).map_err(|e| ModelError::io(path, e))?;
        Self::read(std::io::BufReader::new(f)).map_err(|e| e.in_file(path))
    }

    pub fn read<R: Read>(mut r: R) -> Result<Self, ModelError> {
        let binary_version = read_u32(&mut r)?;
        if binary_version != SUPPORTED_BINARY_VERSION {
            return Err(ModelError::Format(format!("CTranslate2 binary version {binary_version}, expected {SUPPORTED_BINARY_VERSION}")));
        }
        let spec = read_string(&mut r)?;
        let revision = read_u32(&mut r)?;
        let count = read_u32(&mut r)?;
        let mut variables = BTreeMap::new();
        for _ in 0..count {
            let name = read_string(&mut r)?;
            let rank = read_u8(&mut r)?;
            let mut shape = Vec::with_capacity(rank as usize);
            for _ in 0..rank {
                shape.push(read_u32(&mut r)? as usize);
            }
            let dtype = DType::from_id(read_u8(&mut r)?)?;
            let nbytes = read_u32(&mut r)? as usize;
            let expected = shape.iter().product::<usize>() * dtype.size();
            if nbytes != expected {
                return Err(ModelError::Format(format!("variable {name}: {nbytes} bytes for shape {shape:?} of {dtype:?} ({expected} expected)")));
            }
            // `take` + `read_to_end` only allocates what is really there: a lying
            // size in a truncated file cannot make us reserve gigabytes.
            let mut data = Vec::new();
            (&mut r).take(nbytes as u64).read_to_end(&mut data).map_err(ModelError::Read)?;
            if data.len() != nbytes {
                return Err(ModelError::Format(format!("truncated file inside variable {name}")));
            }
            variables.insert(name.clone(), Variable { name, shape, dtype, data });
        }
        let alias_count = read_u32(&mut r)?;
        let mut aliases = BTreeMap::new();
        for _ in 0..alias_count {
            let alias = read_string(&mut r)?;
            let target = read_string(&mut r)?;
            aliases.insert(alias, target);
        }
        Ok(Ct2Model { spec, revision, binary_version, variables, aliases })
    }

    /// A variable by name, following an alias if the name is one.
    pub fn get(&self, name: &str) -> Result<&Variable, ModelError> {
        let target = self.aliases.get(name).map(String::as_str).unwrap_or(name);
        self.variables.get(target).ok_or_else(|| ModelError::Format(format!("CTranslate2 model has no variable {name}")))
    }

    /// Number of `prefix/layer_N` blocks.
    pub fn layer_count(&self, prefix: &str) -> usize {
        (0..)
            .take_while(|i| {
                let p = format!("{prefix}/layer_{i}/");
                self.variables.range(p.clone()..).next().is_some_and(|(k, _)| k.starts_with(&p))
            })
            .count()
    }
}

fn read_exact<R: Read, const N: usize>(r: &mut R) -> Result<[u8; N], ModelError> {
    let mut b = [0u8; N];
    r.read_exact(&mut b).map_err(ModelError::Read)?;
    Ok(b)
}

fn read_u8<R: Read>(r: &mut R) -> Result<u8, ModelError> {
    Ok(read_exact::<R, 1>(r)?[0])
}

fn read_u32<R: Read>(r: &mut R) -> Result<u32, ModelError> {
    Ok(u32::from_le_bytes(read_exact::<R, 4>(r)?))
}

/// u16 length including a trailing NUL, then the bytes.
fn read_string<R: Read>(r: &mut R) -> Result<String, ModelError> {
    let len = u16::from_le_bytes(read_exact::<R, 2>(r)?) as usize;
    let mut b = vec![0u8; len];
    r.read_exact(&mut b).map_err(ModelError::Read)?;
    if b.pop() != Some(0) {
        return Err(ModelError::Format("string without its NUL terminator".into()));
    }
    String::from_utf8(b).map_err(|_| ModelError::Format("string is not UTF-8".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn string(out: &mut Vec<u8>, s: &str) {
        out.extend_from_slice(&((s.len() + 1) as u16).to_le_bytes());
        out.extend_from_slice(s.as_bytes());
        out.push(0);
    }

    fn tiny() -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&6u32.to_le_bytes());
        string(&mut b, "WhisperSpec");
        b.extend_from_slice(&3u32.to_le_bytes());
        b.extend_from_slice(&2u32.to_le_bytes());
        string(&mut b, "a/heads");
        b.push(0);
        b.push(2);
        b.extend_from_slice(&2u32.to_le_bytes());
        b.extend_from_slice(&8i16.to_le_bytes());
        string(&mut b, "a/w");
        b.push(2);
        b.extend_from_slice(&2u32.to_le_bytes());
        b.extend_from_slice(&1u32.to_le_bytes());
        b.push(0);
        b.extend_from_slice(&8u32.to_le_bytes());
        b.extend_from_slice(&1.5f32.to_le_bytes());
        b.extend_from_slice(&(-2f32).to_le_bytes());
        b.extend_from_slice(&1u32.to_le_bytes());
        string(&mut b, "b/w");
        string(&mut b, "a/w");
        b
    }

    #[test]
    fn reads_variables_scalars_and_aliases() {
        let m = Ct2Model::read(&tiny()[..]).unwrap();
        assert_eq!(m.spec, "WhisperSpec");
        assert_eq!(m.revision, 3);
        assert_eq!(m.get("a/heads").unwrap().as_int().unwrap(), 8);
        let w = m.get("b/w").unwrap();
        assert_eq!(w.name, "a/w");
        assert_eq!(w.shape, vec![2, 1]);
        assert_eq!(&w.data[4..8], &(-2f32).to_le_bytes());
    }

    #[test]
    fn truncated_input_is_an_error_not_a_panic() {
        let full = tiny();
        for cut in [3, 10, 40, full.len() - 5] {
            assert!(Ct2Model::read(&full[..cut]).is_err(), "cut at {cut}");
        }
    }
}
