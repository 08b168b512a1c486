//! The runtime switches (saturation, crisis, exceptional closure). With a database they
//! live there (set from the console or `ivr switch set`) and reach calls through
//! [`SwitchesCache`]; the file is the fallback of a service run with `--db-url none`.
//!
//! The file: an operator writes e.g. `crisis = true` into it (or `ivr switch set --file`
//! does); every new call polls it, and it is re-read only when its modification time,
//! size or inode changes, so polling is one `stat` per call.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::hours::ClosedRange;
use crate::policy::Switches;

/// Where `ivr serve` and `ivr switch` look for the file unless told otherwise.
pub const DEFAULT_PATH: &str = "data/switches.toml";

#[derive(Debug, thiserror::Error)]
pub enum SwitchesError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: {source}")]
    Parse { path: PathBuf, source: toml::de::Error },
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
}

/// What identifies one version of the file without reading it: an atomic replace gives a
/// new inode, an edit in place a new time and usually a new size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
    inode: u64,
}

impl Stamp {
    fn of(meta: &std::fs::Metadata) -> Stamp {
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(meta);
        #[cfg(not(unix))]
        let inode = 0;
        Stamp { modified: meta.modified().ok(), len: meta.len(), inode }
    }
}

/// The file's form: a misspelt key (`crisi = true`) is an error, not a silent "all off".
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
struct FileSwitches {
    saturation: bool,
    crisis: bool,
    closed: bool,
}

#[derive(Debug)]
pub struct SwitchesFile {
    path: PathBuf,
    seen: Option<Stamp>,
    current: Switches,
}

impl SwitchesFile {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        SwitchesFile { path: path.into(), seen: None, current: Switches::default() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The last state read successfully (all off before the first good read).
    pub fn current(&self) -> Switches {
        self.current
    }

    /// The switches now. A missing file means all off; a file that does not parse keeps
    /// the last good state (a half-saved edit must not flip messages) and reports why.
    pub fn poll(&mut self) -> Result<Switches, SwitchesError> {
        let stamp = match std::fs::metadata(&self.path) {
            Ok(meta) => Stamp::of(&meta),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                self.seen = None;
                self.current = Switches::default();
                return Ok(self.current);
            }
            Err(source) => return Err(SwitchesError::Read { path: self.path.clone(), source }),
        };
        if stamp.modified.is_some() && Some(stamp) == self.seen {
            return Ok(self.current);
        }
        let text = std::fs::read_to_string(&self.path).map_err(|source| SwitchesError::Read { path: self.path.clone(), source })?;
        let parsed: FileSwitches = toml::from_str(&text).map_err(|source| SwitchesError::Parse { path: self.path.clone(), source })?;
        self.current = Switches { saturation: parsed.saturation, crisis: parsed.crisis, closed: parsed.closed };
        self.seen = Some(stamp);
        Ok(self.current)
    }

    /// Writes the switches (the admin command) to a temporary file beside the target,
    /// synced, then renamed over it: a poll sees the old file or the new one, never half.
    pub fn write(&mut self, switches: Switches) -> Result<(), SwitchesError> {
        let text = format!(
            "# Runtime messages of the 3230 bot; read at every new call.\nsaturation = {}\ncrisis = {}\nclosed = {}\n",
            switches.saturation, switches.crisis, switches.closed
        );
        let werr = |source| SwitchesError::Write { path: self.path.clone(), source };
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(werr)?;
        }
        let mut name = self.path.file_name().unwrap_or_default().to_os_string();
        name.push(".tmp");
        let tmp = self.path.with_file_name(name);
        let written = std::fs::File::create(&tmp)
            .and_then(|mut f| f.write_all(text.as_bytes()).and_then(|_| f.sync_all()))
            .and_then(|_| std::fs::rename(&tmp, &self.path));
        if let Err(source) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(werr(source));
        }
        self.current = switches;
        self.seen = None;
        Ok(())
    }
}

/// The switches and exceptional closures as last read from the shared database (several
/// instances, DESIGN §9), for the calls to read without a query: a background task of the
/// service refreshes it every second; a call start only takes a read lock.
///
/// Until the first successful read it holds all off and no closure. A failed read leaves
/// the last good state in place (the database may be briefly away; messages must not flip).
#[derive(Debug, Default)]
pub struct SwitchesCache {
    state: std::sync::RwLock<(Switches, Vec<ClosedRange>)>,
}

impl SwitchesCache {
    pub fn new() -> SwitchesCache {
        SwitchesCache::default()
    }

    /// Replaces the cached state; returns the switches it held before (for a change log).
    pub fn set(&self, switches: Switches, closures: Vec<ClosedRange>) -> Switches {
        let mut state = self.state.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        let before = state.0;
        *state = (switches, closures);
        before
    }

    pub fn switches(&self) -> Switches {
        self.state.read().unwrap_or_else(std::sync::PoisonError::into_inner).0
    }

    pub fn closures(&self) -> Vec<ClosedRange> {
        self.state.read().unwrap_or_else(std::sync::PoisonError::into_inner).1.clone()
    }
}

/// One line for logs and the admin command: `saturation=off crisis=on closed=off`.
pub fn describe(s: Switches) -> String {
    let word = |b: bool| if b { "on" } else { "off" };
    format!("saturation={} crisis={} closed={}", word(s.saturation), word(s.crisis), word(s.closed))
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
        assert!(matches!(f.poll(), Err(SwitchesError::Parse { .. })));
        assert!(f.current().crisis, "last good state kept");
        std::fs::write(f.path(), "saturation = true\n").unwrap();
        let s = f.poll().unwrap();
        assert!(s.saturation && !s.crisis);
    }

    /// Two atomic writes in a row (same second, same size) are both seen: the rename
    /// gives the file a new inode even where the modification time does not move.
    #[test]
    fn every_write_is_seen_by_a_reader_of_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("switches.toml");
        let mut reader = SwitchesFile::new(&path);
        let mut admin = SwitchesFile::new(&path);
        for crisis in [true, false, true, false] {
            admin.write(Switches { crisis, ..Switches::default() }).unwrap();
            assert_eq!(reader.poll().unwrap().crisis, crisis);
        }
        assert!(!dir.path().join("switches.toml.tmp").exists(), "no temporary left behind");
    }

    #[test]
    fn unchanged_file_is_not_reread() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("switches.toml");
        std::fs::write(&path, "closed = true\n").unwrap();
        let mut f = SwitchesFile::new(&path);
        assert!(f.poll().unwrap().closed);
        // Poke the cached state: a poll that re-read the file would restore `closed`.
        f.current.closed = false;
        assert!(!f.poll().unwrap().closed, "same stamp: cached state returned");
    }

    #[test]
    fn removed_file_means_all_off_and_unknown_keys_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("switches.toml");
        std::fs::write(&path, "saturation = true\n").unwrap();
        let mut f = SwitchesFile::new(&path);
        assert!(f.poll().unwrap().saturation);
        std::fs::remove_file(&path).unwrap();
        assert_eq!(f.poll().unwrap(), Switches::default());
        std::fs::write(&path, "crisis = \"yes\"\n").unwrap();
        let err = f.poll().unwrap_err().to_string();
        assert!(err.contains("switches.toml"), "the error names the file: {err}");
        std::fs::write(&path, "crisi = true\n").unwrap();
        let err = f.poll().unwrap_err().to_string();
        assert!(err.contains("crisi"), "a misspelt key is refused: {err}");
    }

    #[test]
    fn the_cache_returns_what_was_set_last() {
        let cache = SwitchesCache::new();
        assert_eq!(cache.switches(), Switches::default());
        let day = chrono::NaiveDate::from_ymd_opt(2026, 12, 24).unwrap();
        let before = cache.set(Switches { crisis: true, ..Switches::default() }, vec![ClosedRange { first: day, last: day }]);
        assert_eq!(before, Switches::default());
        assert!(cache.switches().crisis);
        assert_eq!(cache.closures().len(), 1);
    }

    #[test]
    fn write_into_a_missing_directory_and_describe() {
        let dir = tempfile::tempdir().unwrap();
        let mut f = SwitchesFile::new(dir.path().join("data/switches.toml"));
        f.write(Switches { closed: true, ..Switches::default() }).unwrap();
        let mut again = SwitchesFile::new(f.path());
        let s = again.poll().unwrap();
        assert_eq!(describe(s), "saturation=off crisis=off closed=on");
    }
}
