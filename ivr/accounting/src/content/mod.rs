//! Content as versioned data (DESIGN §11): the knowledge base and the prompts as whole
//! snapshots, stored in the same database as the accounting.

pub mod snapshot;
pub mod store;

pub use snapshot::{is_content_path, ContentSnapshot, FileChange, SnapshotError};
pub use store::{ContentDraft, ContentVersion, InstanceContent, Publication};
