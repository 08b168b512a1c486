//! SIP: message view (rsip underneath), RFC 3261 timers, transactions and dialogs.

pub mod dialog;
pub mod message;
pub mod timers;
pub mod transaction;
