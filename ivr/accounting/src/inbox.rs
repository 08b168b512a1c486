//! The unanswered-questions inbox of the console: the questions the matcher sent to
//! `@none` (the bot did not understand or the question is outside the catalogue), read back
//! from the stored records and from the events of calls still open, and the marks editors
//! put on groups of similar questions.
//!
//! Transcripts are personal data (DESIGN §8): they come from the `transcripts` table,
//! which the retention purge empties ([`crate::days::purge`]); a question whose transcript
//! is gone still counts in the weekly figures but has no text. A mark names its group by
//! the SHA-256 of the normalized text, never by the words themselves. What a caller
//! dictates to a procedure (name, number, address) is left out, though the matcher saw it.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::event::{Event, EventKind, Flow, Playback};
use crate::record::{paris_day, CallRecord};
use crate::store::{day_text, on_pool, Store};
use crate::{Error, Result};

/// The intent the matcher gives a question it cannot answer.
pub const UNANSWERED_INTENT: &str = "@none";

/// One question the bot could not answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnansweredQuestion {
    pub call_id: String,
    pub at: DateTime<Utc>,
    pub flow: Flow,
    /// None once purged by the retention.
    pub transcript: Option<String>,
    pub score: f32,
}

/// What an editor decided about a group of questions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InboxStatus {
    /// Added as an example phrasing of a topic.
    Phrasing,
    /// Added to the `@none` phrasings: the bot is right not to answer.
    OutOfScope,
    /// Nothing to learn from it (noise, a recognition error).
    Ignored,
}

impl InboxStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            InboxStatus::Phrasing => "phrasing",
            InboxStatus::OutOfScope => "out-of-scope",
            InboxStatus::Ignored => "ignored",
        }
    }

    pub fn parse(s: &str) -> Option<InboxStatus> {
        match s {
            "phrasing" => Some(InboxStatus::Phrasing),
            "out-of-scope" => Some(InboxStatus::OutOfScope),
            "ignored" => Some(InboxStatus::Ignored),
            _ => None,
        }
    }
}

/// A mark on a group of questions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InboxMark {
    /// Hex SHA-256 of the group's normalized text (see the console's grouping).
    pub text_key: String,
    pub status: InboxStatus,
    /// The topic the phrasing went to ([`InboxStatus::Phrasing`]).
    pub topic: Option<String>,
    pub by: String,
    pub at: DateTime<Utc>,
}

/// Prompt ids that end so open the dictation of a procedure (`callback_collect`,
/// `attestation_collect`): what the caller says next is a name, a number, an address.
const DICTATION_PROMPT_SUFFIX: &str = "_collect";
/// Said when the caller is silent, also during a dictation: it neither opens nor closes one.
const SILENCE_PROMPT: &str = "silence_reask";
/// The question that offers two topics ("pour A, dites le premier…").
const CLARIFY_PROMPT: &str = "clarify";

/// The prompt id of a played key as the events store it ("prompt/clarify#0" → "clarify",
/// "prompt/silence_reask" → "silence_reask").
fn prompt_id(key: &str) -> &str {
    let id = key.strip_prefix("prompt/").unwrap_or(key);
    id.split('#').next().unwrap_or(id)
}

/// Whether a topic question asked at `at` was offered by the clarify question and never
/// answered: the clarify prompt played after it (before `next`, the next question) and no
/// answer played afterwards until the call ended. The caller gave up, or the keypad menu
/// or an agent took over: the bot did not give an answer, so the question belongs in the
/// inbox like a `@none`.
fn unresolved_clarify(plays: &[crate::record::Play], at: DateTime<Utc>, next: Option<DateTime<Utc>>) -> bool {
    let offered = plays.iter().any(|p| p.at > at && next.is_none_or(|n| p.at <= n) && matches!(&p.what, Playback::Prompt(k) if prompt_id(k) == CLARIFY_PROMPT));
    offered && !plays.iter().any(|p| p.at > at && matches!(p.what, Playback::Answer(_)))
}

/// Whether a question asked at `at` answers a procedure's request for details: the last
/// playback before it (the silence re-ask aside) is a prompt opening a dictation. Such
/// words are personal data, not a question: they never reach the inbox (DESIGN §8).
fn is_dictation<'a>(plays: impl Iterator<Item = (DateTime<Utc>, &'a Playback)>, at: DateTime<Utc>) -> bool {
    let last = plays.filter(|(t, p)| *t <= at && !matches!(p, Playback::Prompt(k) if prompt_id(k) == SILENCE_PROMPT)).max_by_key(|(t, _)| *t);
    matches!(last, Some((_, Playback::Prompt(k))) if prompt_id(k).ends_with(DICTATION_PROMPT_SUFFIX))
}

/// The part of a stored record body this module reads (the rest is ignored).
#[derive(Deserialize)]
struct BodyRecord {
    record: CallRecord,
}

fn at_ms(ms: i64) -> Result<DateTime<Utc>> {
    DateTime::<Utc>::from_timestamp_millis(ms).ok_or_else(|| Error::Corrupt(format!("bad time {ms}")))
}

/// (call_id, question index, transcript text if not purged)
type TextRow = (String, i64, Option<String>);

impl Store {
    /// Questions the bot gave no answer to, asked in `from..to` (instants), oldest first:
    /// `@none` from the records of ended calls (transcripts joined back while kept) and
    /// from the events of calls not recorded yet, and, in ended calls, topic questions
    /// offered by the clarify question that the caller never resolved.
    pub async fn unanswered_questions(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<UnansweredQuestion>> {
        // Records are stored per Paris day: read the days around the window, then cut exactly.
        let (d1, d2) = (day_text(paris_day(from) - chrono::Days::new(1)), day_text(paris_day(to)));
        // Only bodies that hold an unanswered question or a clarify question are parsed.
        let pattern = format!("%\"intent\":\"{UNANSWERED_INTENT}\"%");
        let clarify = format!("%prompt/{CLARIFY_PROMPT}#%");
        let (bodies, texts, events): (Vec<String>, Vec<TextRow>, Vec<String>) = on_pool!(&self.pool, p => {
            let b = sqlx::query("SELECT body FROM call_records WHERE day >= $1 AND day <= $2 AND (body LIKE $3 OR body LIKE $4) ORDER BY day, seq")
                .bind(&d1).bind(&d2).bind(&pattern).bind(&clarify).fetch_all(p).await?
                .iter().map(|r| r.try_get::<String, _>("body")).collect::<std::result::Result<Vec<_>, _>>()?;
            let t = sqlx::query_as("SELECT t.call_id, t.idx, t.text FROM transcripts t JOIN call_records r ON r.call_id = t.call_id WHERE r.day >= $1 AND r.day <= $2 AND (r.body LIKE $3 OR r.body LIKE $4)")
                .bind(&d1).bind(&d2).bind(&pattern).bind(&clarify).fetch_all(p).await?;
            let e = sqlx::query("SELECT body FROM call_events WHERE call_id IN (SELECT call_id FROM call_events WHERE day >= $1 AND day <= $2) ORDER BY id")
                .bind(&d1).bind(&d2).fetch_all(p).await?
                .iter().map(|r| r.try_get::<String, _>("body")).collect::<std::result::Result<Vec<_>, _>>()?;
            (b, t, e)
        });
        let mut text_of: HashMap<(String, i64), String> = HashMap::new();
        for (call, idx, text) in texts {
            if let Some(t) = text {
                text_of.insert((call, idx), t);
            }
        }
        let mut out = Vec::new();
        for b in &bodies {
            let rec = serde_json::from_str::<BodyRecord>(b)?.record;
            for (i, q) in rec.questions.iter().enumerate() {
                let next = rec.questions.get(i + 1).map(|n| n.at);
                let unanswered = q.intent == UNANSWERED_INTENT || (!q.intent.starts_with('@') && unresolved_clarify(&rec.plays, q.at, next));
                if unanswered && !is_dictation(rec.plays.iter().map(|p| (p.at, &p.what)), q.at) {
                    let transcript = text_of.remove(&(rec.call_id.clone(), i as i64));
                    out.push(UnansweredQuestion { call_id: rec.call_id.clone(), at: q.at, flow: rec.flow, transcript, score: q.score });
                }
            }
        }
        // Calls in progress (or cut by a crash, not closed yet): their events.
        let mut flow_of: HashMap<String, Flow> = HashMap::new();
        let mut plays_of: HashMap<String, Vec<(DateTime<Utc>, Playback)>> = HashMap::new();
        let mut pending = Vec::new();
        for b in &events {
            let e: Event = serde_json::from_str(b)?;
            match e.kind {
                EventKind::Started { flow, .. } => {
                    flow_of.insert(e.call_id.clone(), flow);
                }
                EventKind::Played { what, .. } => plays_of.entry(e.call_id.clone()).or_default().push((e.at, what)),
                EventKind::Question { transcript, intent, score } if intent == UNANSWERED_INTENT => pending.push((e.call_id, e.at, transcript, score)),
                _ => {}
            }
        }
        for (call_id, at, transcript, score) in pending {
            if plays_of.get(&call_id).is_some_and(|p| is_dictation(p.iter().map(|(t, w)| (*t, w)), at)) {
                continue;
            }
            // A call whose start was not stored cannot be placed in a flow: choix 2 is the default line.
            let flow = flow_of.get(&call_id).copied().unwrap_or(Flow::Choix2);
            out.push(UnansweredQuestion { call_id, at, flow, transcript: Some(transcript), score });
        }
        out.retain(|q| q.at >= from && q.at < to);
        out.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.call_id.cmp(&b.call_id)));
        Ok(out)
    }

    /// Every mark, newest first.
    pub async fn inbox_marks(&self) -> Result<Vec<InboxMark>> {
        let rows: Vec<(String, String, Option<String>, String, i64)> = on_pool!(&self.pool, p => {
            sqlx::query_as("SELECT text_key, status, topic, marked_by, marked_ms FROM inbox_marks ORDER BY marked_ms DESC, text_key")
                .fetch_all(p).await?
        });
        rows.into_iter()
            .map(|(text_key, status, topic, by, ms)| {
                let status = InboxStatus::parse(&status).ok_or_else(|| Error::Corrupt(format!("inbox status {status:?}")))?;
                Ok(InboxMark { text_key, status, topic, by, at: at_ms(ms)? })
            })
            .collect()
    }

    /// Records (or replaces) the mark of a group.
    pub async fn mark_inbox(&self, mark: &InboxMark) -> Result<()> {
        on_pool!(&self.pool, p => {
            sqlx::query("INSERT INTO inbox_marks (text_key, status, topic, marked_by, marked_ms) VALUES ($1, $2, $3, $4, $5) \
                         ON CONFLICT (text_key) DO UPDATE SET status = excluded.status, topic = excluded.topic, marked_by = excluded.marked_by, marked_ms = excluded.marked_ms")
                .bind(&mark.text_key).bind(mark.status.as_str()).bind(&mark.topic).bind(&mark.by).bind(mark.at.timestamp_millis())
                .execute(p).await?.rows_affected()
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip() {
        for s in [InboxStatus::Phrasing, InboxStatus::OutOfScope, InboxStatus::Ignored] {
            assert_eq!(InboxStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(InboxStatus::parse("done"), None);
    }
}
