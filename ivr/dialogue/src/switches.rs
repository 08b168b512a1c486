//! The runtime switches file (saturation, crisis, exceptional closure). An operator
//! writes e.g. `crisis = true` into it (or an admin command does); every new call polls
//! it, and it is re-read only when its modification time changes, so polling is cheap.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::policy::Switches;

#[derive(Debug, thiserror::Error)]
pub enum SwitchesError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: {source}")]
    Parse { path: PathBuf, source: toml::de::Error },
}

#[derive(Debug)]
pub struct SwitchesFile {
    path: PathBuf,
    seen: Option<SystemTime>,
    current: Switches,
}

impl SwitchesFile {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        SwitchesFile { path: path.into(), seen: None, current: Switches::default() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The switches now. A missing file means all off; a file that does not parse keeps
    /// the last good state (a half-saved edit must not flip messages) and reports why.
    pub fn poll(&mut self) -> Result<Switches, SwitchesError> {
        let modified = match std::fs::metadata(&self.path) {
            Ok(meta) => meta.modified().ok(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                self.seen = None;
                self.current = Switches::default();
                return Ok(self.current);
            }
            Err(source) => return Err(SwitchesError::Read { path: self.path.clone(), source }),
        };
        if modified.is_some() && modified == self.seen {
            return Ok(self.current);
        }
        let text = std::fs::read_to_string(&self.path)
            .map_err(|source| SwitchesError::Read { path: self.path.clone(), source })?;
        let parsed: Switches =
            toml::from_str(&text).map_err(|source| SwitchesError::Parse { path: self.path.clone(), source })?;
        self.current = parsed;
        self.seen = modified;
        Ok(self.current)
    }

    /// Write the switches (the admin command); the next poll picks them up.
    pub fn write(&mut self, switches: Switches) -> Result<(), SwitchesError> {
        let text = format!(
            "# Runtime messages of the 3230 bot; read at every new call.\nsaturation = {}\ncrisis = {}\nclosed = {}\n",
            switches.saturation, switches.crisis, switches.closed
        );
        let tmp = self.path.with_extension("tmp");
        std::fs::write(&tmp, text)
            .and_then(|_| std::fs::rename(&tmp, &self.path))
            .map_err(|source| SwitchesError::Read { path: self.path.clone(), source })?;
        self.seen = None;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_then_written_then_broken() {
        let dir = tempfile::tempdir().unwrap();
        let mut f = SwitchesFile::new(dir.path().join("switches.toml"));
        assert_eq!(f.poll().unwrap(), Switches::default());
        f.write(Switches { crisis: true, ..Switches::default() }).unwrap();
        assert!(f.poll().unwrap().crisis);
        std::fs::write(f.path(), "crisis = tru").unwrap();
        f.seen = None;
        assert!(f.poll().is_err());
        assert!(f.current.crisis, "last good state kept");
        std::fs::write(f.path(), "saturation = true\n").unwrap();
        f.seen = None;
        let s = f.poll().unwrap();
        assert!(s.saturation && !s.crisis);
    }
}
