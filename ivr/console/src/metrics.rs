//! `/metrics` in the Prometheus text exposition format (version 0.0.4), written by a small
//! registry of our own: a dozen fixed families do not justify a metrics framework and its
//! dependencies.
//!
//! The process has one registry ([`global`]): the call tasks count into it as things happen
//! (calls ended, latencies, matcher decisions); the values that live elsewhere (telephony
//! counters, recognition queue, accounting drops) are read at scrape time through the
//! [`Sample`] function the service installs with [`Metrics::set_sampler`].
//!
//! Access: peers on the loopback interface, or a request with
//! `Authorization: Bearer <[console] metrics_token>`. Nothing here names a caller.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex, RwLock};

use axum::extract::{ConnectInfo, State};
use axum::http::{header, Extensions, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::AppState;

/// Upper bounds (seconds) of the latency histograms: speech turns live between a tenth of a
/// second and a few seconds.
pub const LATENCY_BUCKETS: [f64; 11] = [0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0];

/// A latency histogram with [`LATENCY_BUCKETS`].
#[derive(Default)]
pub struct Histogram {
    buckets: [AtomicU64; LATENCY_BUCKETS.len()],
    count: AtomicU64,
    sum_us: AtomicU64,
}

impl Histogram {
    pub fn observe_ms(&self, ms: u64) {
        let s = ms as f64 / 1000.0;
        if let Some(i) = LATENCY_BUCKETS.iter().position(|b| s <= *b) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add(ms.saturating_mul(1000), Ordering::Relaxed);
    }

    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    fn write(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let mut cumulative = 0;
        for (b, n) in LATENCY_BUCKETS.iter().zip(&self.buckets) {
            cumulative += n.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{le=\"{b}\"}} {cumulative}");
        }
        let count = self.count();
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(out, "{name}_sum {}", self.sum_us.load(Ordering::Relaxed) as f64 / 1e6);
        let _ = writeln!(out, "{name}_count {count}");
    }
}

/// A counter family with one label.
#[derive(Default)]
pub struct LabeledCounter {
    values: Mutex<BTreeMap<String, u64>>,
}

impl LabeledCounter {
    pub fn inc(&self, label: &str) {
        let mut v = self.values.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *v.entry(label.to_string()).or_default() += 1;
    }

    pub fn get(&self, label: &str) -> u64 {
        self.values.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(label).copied().unwrap_or(0)
    }

    fn snapshot(&self) -> BTreeMap<String, u64> {
        self.values.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }
}

/// The values read at scrape time from the parts of the service that own them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sample {
    pub calls_active: u64,
    pub sip_up: bool,
    pub sip_responses: BTreeMap<u16, u64>,
    pub rtp_late: u64,
    pub rtp_lost: u64,
    /// Dropped: from another source than the call's peer.
    pub rtp_foreign_source: u64,
    /// Dropped: the call's jitter buffer was full.
    pub rtp_overflow: u64,
    pub asr_queue: u64,
    pub accounting_dropped: u64,
}

type Sampler = Box<dyn Fn() -> Sample + Send + Sync>;

/// The process's metrics.
#[derive(Default)]
pub struct Metrics {
    pub calls_started: AtomicU64,
    /// By how the call ended: caller, bot, transfer, network.
    pub calls_ended: LabeledCounter,
    /// Recognition: from submission to text (queue + run).
    pub asr_latency: Histogram,
    /// From the caller's end of speech to the first audio of the answer.
    pub answer_latency: Histogram,
    /// By the matcher's action for a question (answer, clarify, transfer, ...).
    pub matcher_decisions: LabeledCounter,
    /// Events handed to the accounting recorder.
    pub accounting_recorded: AtomicU64,
    content_version: RwLock<Option<String>>,
    sampler: RwLock<Option<Sampler>>,
}

static GLOBAL: LazyLock<Metrics> = LazyLock::new(Metrics::default);

/// The registry of this process.
pub fn global() -> &'static Metrics {
    &GLOBAL
}

impl Metrics {
    /// Installs the function that reads the values owned elsewhere (replacing any earlier one).
    pub fn set_sampler(&self, f: impl Fn() -> Sample + Send + Sync + 'static) {
        *self.sampler.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Box::new(f));
    }

    /// The content version the calls are answered with, when the service knows one.
    pub fn set_content_version(&self, version: Option<String>) {
        *self.content_version.write().unwrap_or_else(std::sync::PoisonError::into_inner) = version;
    }

    pub fn call_started(&self) {
        self.calls_started.fetch_add(1, Ordering::Relaxed);
    }

    pub fn accounting_event(&self) {
        self.accounting_recorded.fetch_add(1, Ordering::Relaxed);
    }

    fn sample(&self) -> Sample {
        match &*self.sampler.read().unwrap_or_else(std::sync::PoisonError::into_inner) {
            Some(f) => f(),
            None => Sample::default(),
        }
    }

    /// The exposition text.
    pub fn render(&self) -> String {
        let s = self.sample();
        let mut out = String::with_capacity(4096);
        let family = |out: &mut String, name: &str, kind: &str, help: &str| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        };
        family(&mut out, "ivr_calls_active", "gauge", "Calls in progress on this instance.");
        let _ = writeln!(out, "ivr_calls_active {}", s.calls_active);
        family(&mut out, "ivr_sip_up", "gauge", "1 while the SIP side is running.");
        let _ = writeln!(out, "ivr_sip_up {}", u8::from(s.sip_up));
        family(&mut out, "ivr_calls_started_total", "counter", "Calls answered by the bot.");
        let _ = writeln!(out, "ivr_calls_started_total {}", self.calls_started.load(Ordering::Relaxed));
        family(&mut out, "ivr_calls_ended_total", "counter", "Calls ended, by outcome (caller hung up, bot hung up, transferred, network).");
        for (outcome, n) in self.calls_ended.snapshot() {
            let _ = writeln!(out, "ivr_calls_ended_total{{outcome=\"{}\"}} {n}", label(&outcome));
        }
        family(&mut out, "ivr_sip_responses_total", "counter", "SIP responses sent, by status code.");
        for (code, n) in &s.sip_responses {
            let _ = writeln!(out, "ivr_sip_responses_total{{code=\"{code}\"}} {n}");
        }
        family(&mut out, "ivr_rtp_late_packets_total", "counter", "RTP packets that arrived too late for the jitter buffer.");
        let _ = writeln!(out, "ivr_rtp_late_packets_total {}", s.rtp_late);
        family(&mut out, "ivr_rtp_lost_packets_total", "counter", "RTP packets never received (sequence gaps).");
        let _ = writeln!(out, "ivr_rtp_lost_packets_total {}", s.rtp_lost);
        family(&mut out, "ivr_rtp_dropped_packets_total", "counter", "RTP packets dropped, by reason.");
        let _ = writeln!(out, "ivr_rtp_dropped_packets_total{{reason=\"foreign_source\"}} {}", s.rtp_foreign_source);
        let _ = writeln!(out, "ivr_rtp_dropped_packets_total{{reason=\"overflow\"}} {}", s.rtp_overflow);
        family(&mut out, "ivr_asr_queue_depth", "gauge", "Utterances waiting for a recognition worker.");
        let _ = writeln!(out, "ivr_asr_queue_depth {}", s.asr_queue);
        self.asr_latency.write(&mut out, "ivr_asr_latency_seconds", "Recognition time of an utterance, queue included.");
        self.answer_latency.write(&mut out, "ivr_answer_latency_seconds", "End of the caller's speech to the start of the answer.");
        family(&mut out, "ivr_matcher_decisions_total", "counter", "Questions by the matcher's decision.");
        for (action, n) in self.matcher_decisions.snapshot() {
            let _ = writeln!(out, "ivr_matcher_decisions_total{{action=\"{}\"}} {n}", label(&action));
        }
        family(&mut out, "ivr_accounting_events_recorded_total", "counter", "Accounting events handed to the recorder.");
        let _ = writeln!(out, "ivr_accounting_events_recorded_total {}", self.accounting_recorded.load(Ordering::Relaxed));
        family(&mut out, "ivr_accounting_events_dropped_total", "counter", "Accounting events dropped because the recorder's queue was full.");
        let _ = writeln!(out, "ivr_accounting_events_dropped_total {}", s.accounting_dropped);
        family(&mut out, "ivr_content_info", "gauge", "The content version loaded (label), always 1.");
        let version = self.content_version.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        let _ = writeln!(out, "ivr_content_info{{version=\"{}\"}} 1", label(version.as_deref().unwrap_or("files")));
        out
    }
}

/// A label value as the format wants it: backslash, quote and newline escaped.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// One sample line of an exposition: name, labels, value.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedSample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// A strict reader of the exposition format for tests and checks: every sample belongs to
/// a family declared by a `# TYPE` line before it, names and labels are well formed, values
/// are numbers. Returns the declared families (name → type) and the samples.
pub fn parse(text: &str) -> Result<(BTreeMap<String, String>, Vec<ParsedSample>), String> {
    let mut families = BTreeMap::new();
    let mut samples = Vec::new();
    let valid_name =
        |n: &str| !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':') && !n.starts_with(|c: char| c.is_ascii_digit());
    for (i, line) in text.lines().enumerate() {
        let err = |why: &str| format!("line {}: {why}: {line:?}", i + 1);
        if line.is_empty() || line.starts_with("# HELP ") {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').ok_or_else(|| err("TYPE without a type"))?;
            if !valid_name(name) || !["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind) {
                return Err(err("bad TYPE"));
            }
            if families.insert(name.to_string(), kind.to_string()).is_some() {
                return Err(err("family declared twice"));
            }
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').ok_or_else(|| err("no value"))?;
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().map_err(|_| err("value is not a number"))?,
        };
        let (name, labels) = match series.split_once('{') {
            None => (series, BTreeMap::new()),
            Some((name, rest)) => {
                let body = rest.strip_suffix('}').ok_or_else(|| err("labels not closed"))?;
                let mut labels = BTreeMap::new();
                for pair in split_labels(body) {
                    let (k, v) = pair.split_once('=').ok_or_else(|| err("label without '='"))?;
                    let v = v.strip_prefix('"').and_then(|v| v.strip_suffix('"')).ok_or_else(|| err("label value not quoted"))?;
                    if !valid_name(k) {
                        return Err(err("bad label name"));
                    }
                    labels.insert(k.to_string(), v.replace("\\\"", "\"").replace("\\n", "\n").replace("\\\\", "\\"));
                }
                (name, labels)
            }
        };
        if !valid_name(name) {
            return Err(err("bad metric name"));
        }
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .filter_map(|s| name.strip_suffix(s))
            .find(|f| families.get(*f).is_some_and(|k| k == "histogram" || k == "summary"))
            .unwrap_or(name);
        if !families.contains_key(family) {
            return Err(err("sample before its TYPE line"));
        }
        samples.push(ParsedSample { name: name.to_string(), labels, value });
    }
    Ok((families, samples))
}

/// Splits `a="x",b="y,z"` on the commas outside quotes.
fn split_labels(body: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in body.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => quoted = !quoted,
            ',' if !quoted => {
                out.push(&body[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if start < body.len() {
        out.push(&body[start..]);
    }
    out
}

/// Whether this request may read the metrics: from loopback, or with the configured token.
fn allowed(state: &AppState, headers: &HeaderMap, ext: &Extensions) -> bool {
    let loopback = ext.get::<ConnectInfo<SocketAddr>>().is_some_and(|ConnectInfo(peer)| match peer.ip() {
        std::net::IpAddr::V4(v4) => v4.is_loopback(),
        std::net::IpAddr::V6(v6) => v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
    });
    if loopback {
        return true;
    }
    let Some(token) = state.cfg.metrics_token.as_deref().filter(|t| !t.is_empty()) else { return false };
    let given = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer ")).unwrap_or("");
    crate::auth::same_token(given.trim(), token)
}

/// `GET /metrics`.
pub async fn metrics(State(state): State<AppState>, headers: HeaderMap, ext: Extensions) -> Response {
    if !allowed(&state, &headers, &ext) {
        return (StatusCode::FORBIDDEN, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], "metrics: loopback or bearer token only\n").into_response();
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], global().render()).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_registry_renders_a_valid_exposition() {
        let m = Metrics::default();
        m.call_started();
        m.calls_ended.inc("caller");
        m.matcher_decisions.inc("answer");
        m.asr_latency.observe_ms(420);
        m.answer_latency.observe_ms(20_000);
        m.set_content_version(Some("v\"3".into()));
        m.set_sampler(|| Sample { calls_active: 2, sip_responses: BTreeMap::from([(200, 5), (503, 1)]), ..Sample::default() });
        let text = m.render();
        let (families, samples) = parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(families.get("ivr_asr_latency_seconds").map(String::as_str), Some("histogram"));
        let get = |name: &str, label: Option<(&str, &str)>| {
            samples.iter().find(|s| s.name == name && label.is_none_or(|(k, v)| s.labels.get(k).map(String::as_str) == Some(v))).map(|s| s.value)
        };
        assert_eq!(get("ivr_calls_active", None), Some(2.0));
        assert_eq!(get("ivr_sip_responses_total", Some(("code", "503"))), Some(1.0));
        assert_eq!(get("ivr_asr_latency_seconds_bucket", Some(("le", "0.25"))), Some(0.0));
        assert_eq!(get("ivr_asr_latency_seconds_bucket", Some(("le", "0.5"))), Some(1.0));
        assert_eq!(get("ivr_answer_latency_seconds_bucket", Some(("le", "10"))), Some(0.0), "20 s is beyond the last bound");
        assert_eq!(get("ivr_answer_latency_seconds_bucket", Some(("le", "+Inf"))), Some(1.0));
        assert_eq!(get("ivr_content_info", Some(("version", "v\"3"))), Some(1.0), "label escaped and read back");
    }

    #[test]
    fn the_parser_refuses_malformed_lines() {
        for bad in ["x 1", "# TYPE x counter\nx{a=1} 1", "# TYPE x counter\nx one", "# TYPE x counter\nx{a=\"1\" 1", "# TYPE x nope"] {
            assert!(parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(parse("# TYPE x counter\nx{a=\"1,2\",b=\"\\\"\"} 3").is_ok());
    }
}
