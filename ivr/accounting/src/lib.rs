//! SC3.2 accounting of the 3230 voicebot: call events and records, caller pseudonyms, the
//! productivity rule (`sc32`), the store (SQLite or PostgreSQL), day closing, retention,
//! tamper-evident chaining, reports and exports.
//!
//! The service uses: `parse_caller` + `Pseudonymizer::caller` at call start, `Recorder::record`
//! for each event, `CallRecord::from_events` + `Recorder::finish_call` at the end, and
//! `days::run_daily` for the scheduled day close and purge.

pub mod accounts;
pub mod audit;
pub mod caller;
pub mod config;
pub mod content;
pub mod days;
pub mod event;
pub mod export;
pub mod inbox;
pub mod pseudonym;
pub mod record;
pub mod recorder;
pub mod report;
pub mod requests;
pub mod review;
pub mod sc32;
pub mod spool;
pub mod store;
pub mod supervision;

mod error;

pub use accounts::{Account, Role, Session};
pub use audit::{AuditEntry, AuditVerify, AUDIT_RETENTION_DAYS};
pub use caller::{identify_caller, parse_caller, CallerNumber};
pub use config::AccountingConfig;
pub use content::{ContentDraft, ContentSnapshot, ContentVersion, FileChange, InstanceContent, Publication};
pub use error::{Error, Result};
pub use event::{Caller, EndedBy, Event, EventKind, Flow, Playback};
pub use inbox::{InboxMark, InboxStatus, UnansweredQuestion};
pub use pseudonym::Pseudonymizer;
pub use record::{paris_day, CallRecord};
pub use recorder::{BatchPolicy, Committed, Recorder, Writer};
pub use requests::{NewRequest, Request, RequestFilter, RequestKind, RequestRetention, RequestStatus};
pub use sc32::{Outcome, Sc32Rule};
pub use store::{Store, VerifyReport, DEFAULT_DB_URL};
pub use supervision::{Closure, InstanceBeat, LiveCall, SwitchFlags, SwitchState};

/// Dates and times in this API are chrono types; re-exported so callers use the same version.
pub use chrono;
