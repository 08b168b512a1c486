//! The recorder's local spool: batches that the database could not take (PostgreSQL down,
//! network cut) are appended to a file, fsynced, and count as durable; once the database
//! answers again they are replayed in order, so every day's hash chain is built in the
//! order the calls ended, and the file is emptied.
//!
//! One JSON line per batch. A line cut short by a crash while it was written is the last
//! line and was never acknowledged: it is skipped on reading. A crash in the middle of a
//! replay may write a batch twice: records are idempotent (a call already recorded is not
//! recorded again), a procedure request would be stored twice.
//!
//! The spool holds what the batches hold (question transcripts, procedure requests) only
//! for the time of an outage; its file is truncated as soon as it is replayed.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::event::Event;
use crate::record::CallRecord;
use crate::requests::NewRequest;
use crate::Result;

/// What one commit of the writer carries.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct Batch {
    pub events: Vec<Event>,
    pub records: Vec<CallRecord>,
    #[serde(default)]
    pub requests: Vec<NewRequest>,
}

impl Batch {
    pub fn is_empty(&self) -> bool {
        self.events.is_empty() && self.records.is_empty() && self.requests.is_empty()
    }
}

pub struct Spool {
    path: PathBuf,
    file: File,
    pending: usize,
}

impl Spool {
    /// Opens (creating) the spool at `path`; batches left by a previous run are pending.
    pub fn open(path: &Path) -> Result<Spool> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let file = OpenOptions::new().create(true).read(true).append(true).open(path)?;
        let mut spool = Spool { path: path.to_path_buf(), file, pending: 0 };
        spool.pending = spool.read()?.len();
        Ok(spool)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Batches waiting for the database.
    pub fn pending(&self) -> usize {
        self.pending
    }

    /// Appends a batch; durable (fsynced) when this returns Ok.
    pub fn append(&mut self, batch: &Batch) -> Result<()> {
        let mut line = serde_json::to_vec(batch)?;
        line.push(b'\n');
        self.file.write_all(&line)?;
        self.file.sync_data()?;
        self.pending += 1;
        Ok(())
    }

    /// The pending batches, oldest first.
    pub fn read(&self) -> Result<Vec<Batch>> {
        let mut f = self.file.try_clone()?;
        f.seek(SeekFrom::Start(0))?;
        let mut out = Vec::new();
        for line in BufReader::new(f).lines() {
            let line = line?;
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<Batch>(&line) {
                Ok(b) => out.push(b),
                // Only the last line can be torn (a crash while appending): never acknowledged.
                Err(e) => tracing::warn!(error = %e, "accounting spool: unreadable line skipped"),
            }
        }
        Ok(out)
    }

    /// Keeps only `rest` (the batches not replayed yet), or empties the file.
    pub fn replace(&mut self, rest: &[Batch]) -> Result<()> {
        if rest.is_empty() {
            self.file.set_len(0)?;
            self.file.sync_all()?;
            self.pending = 0;
            return Ok(());
        }
        let tmp = self.path.with_extension("tmp");
        {
            let mut t = File::create(&tmp)?;
            for b in rest {
                let mut line = serde_json::to_vec(b)?;
                line.push(b'\n');
                t.write_all(&line)?;
            }
            t.sync_all()?;
        }
        std::fs::rename(&tmp, &self.path)?;
        self.file = OpenOptions::new().read(true).append(true).open(&self.path)?;
        self.pending = rest.len();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{EndedBy, EventKind};

    fn batch(n: u32) -> Batch {
        let at = chrono::DateTime::<chrono::Utc>::from_timestamp(1_700_000_000 + i64::from(n), 0).unwrap();
        Batch { events: vec![Event::new(format!("c{n}"), at, EventKind::Ended { by: EndedBy::Bot })], ..Batch::default() }
    }

    #[test]
    fn batches_survive_a_reopen_in_order_and_a_torn_line_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spool.jsonl");
        let mut s = Spool::open(&path).unwrap();
        assert_eq!(s.pending(), 0);
        for n in 0..3 {
            s.append(&batch(n)).unwrap();
        }
        drop(s);
        // A crash in the middle of an append.
        std::fs::OpenOptions::new().append(true).open(&path).unwrap().write_all(b"{\"events\":[{\"call").unwrap();
        let mut s = Spool::open(&path).unwrap();
        let read = s.read().unwrap();
        assert_eq!(read, vec![batch(0), batch(1), batch(2)]);
        s.replace(&read[2..]).unwrap();
        assert_eq!(s.pending(), 1);
        s.append(&batch(3)).unwrap();
        assert_eq!(Spool::open(&path).unwrap().read().unwrap(), vec![batch(2), batch(3)]);
        s.replace(&[]).unwrap();
        assert_eq!(Spool::open(&path).unwrap().pending(), 0);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);
    }
}
