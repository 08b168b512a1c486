//! Content validation behind `ivr knowledge check`.

use std::collections::{BTreeMap, BTreeSet};

use super::{Action, Diagnostic, KnowledgeBase, Procedure, SourceFile, Topic};
use crate::analysis::fold_text;

/// Telephone reading pace used to estimate how long an answer takes to say.
pub const WORDS_PER_SECOND: f64 = 2.5;
/// A spoken answer past this is cut by callers (and weighs on the SC3.2 heard ratio).
pub const MAX_ANSWER_SECONDS: f64 = 45.0;
/// Past this an answer is still accepted, but `ivr knowledge check` warns: with the
/// prompts played after it (appointment, another question), callers start hanging up
/// before 75 % of it has been heard.
pub const WARN_ANSWER_SECONDS: f64 = 40.0;
/// Below this an `answer` topic is too thin to be useful.
pub const MIN_ANSWER_SECONDS: f64 = 20.0;
pub const MAX_SHORT_ANSWER_SECONDS: f64 = 20.0;
/// Fewer phrasings than this leave the matcher guessing.
pub const MIN_EXAMPLES: usize = 12;

/// Official sites an answer may rest on (a host or any of its subdomains).
/// `service-public.gouv.fr` is the name of service-public.fr since October 2025.
const ALLOWED_HOSTS: &[&str] = &[
    "caf.fr",
    "service-public.fr",
    "service-public.gouv.fr",
    "mesdroitssociaux.gouv.fr",
    "monenfant.fr",
    "pension-alimentaire.caf.fr",
    "ameli.fr",
    "francetravail.fr",
    "monparcourshandicap.gouv.fr",
    "enseignementsup-recherche.gouv.fr",
];

/// Estimated speaking time of a text at [`WORDS_PER_SECOND`].
pub fn spoken_seconds(text: &str) -> f64 {
    text.split_whitespace().filter(|w| w.chars().any(char::is_alphanumeric)).count() as f64 / WORDS_PER_SECOND
}

fn host_allowed(url: &str) -> Result<(), String> {
    let rest = url.strip_prefix("https://").ok_or_else(|| format!("source {url:?} must start with https://"))?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or("").to_ascii_lowercase();
    let host = host.split(':').next().unwrap_or("");
    let ok = ALLOWED_HOSTS.iter().any(|h| host == *h || host.ends_with(&format!(".{h}")));
    if ok {
        Ok(())
    } else {
        Err(format!("source host {host:?} is not one of {}", ALLOWED_HOSTS.join(", ")))
    }
}

/// Left-over drafting marks that must never be read to a caller.
fn draft_marker(text: &str) -> Option<&'static str> {
    if text.contains('{') || text.contains('}') {
        return Some("a {placeholder}");
    }
    let upper = text.to_uppercase();
    ["TODO", "XXX", "FIXME", "TBD", "LOREM"].into_iter().find(|&m| text.contains(m) || (m == "LOREM" && upper.contains(m)))
}

/// Spoken texts are rendered by a voice: written forms it reads badly are errors.
fn speech_form(text: &str) -> Option<&'static str> {
    if text.to_lowercase().contains("caf.fr") {
        return Some("write caf.fr as it is said: \"caf point f r\"");
    }
    if text.split(|c: char| !c.is_alphanumeric()).any(|w| w == "CAF") {
        return Some("write \"Caf\": the voice spells out \"CAF\"");
    }
    None
}

struct Ctx<'a> {
    out: &'a mut Vec<Diagnostic>,
    src: &'a SourceFile,
}

impl Ctx<'_> {
    fn at_key(&mut self, key: &str, reason: String) {
        let line = self.src.line_of_key(key);
        self.out.push(Diagnostic::new(&self.src.path, line, reason));
    }
    fn at_value(&mut self, key: &str, value: &str, reason: String) {
        let line = self.src.line_of_value(key, value);
        self.out.push(Diagnostic::new(&self.src.path, line, reason));
    }
}

fn check_spoken(ctx: &mut Ctx, key: &str, text: &str, min_s: Option<f64>, max_s: f64) {
    if text.trim().is_empty() {
        ctx.at_key(key, format!("{key} is empty"));
        return;
    }
    let s = spoken_seconds(text);
    if s > max_s {
        ctx.at_key(key, format!("{key} takes about {s:.0} s to say (> {max_s:.0} s at {WORDS_PER_SECOND} words/s)"));
    }
    if let Some(min) = min_s {
        if s < min {
            ctx.at_key(key, format!("{key} takes about {s:.0} s to say (< {min:.0} s): too thin"));
        }
    }
    if let Some(m) = draft_marker(text) {
        ctx.at_key(key, format!("{key} contains {m}"));
    }
    if let Some(m) = speech_form(text) {
        ctx.at_key(key, format!("{key}: {m}"));
    }
}

fn check_topic(kb: &KnowledgeBase, topic: &Topic, src: &SourceFile, today: (i32, u8, u8), out: &mut Vec<Diagnostic>) {
    let mut ctx = Ctx { out, src };
    let stem = src.path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    if topic.slug != stem {
        ctx.at_key("slug", format!("slug {:?} must equal the file name {stem:?}", topic.slug));
    }
    match kb.catalog.as_ref().map(|c| c.topics.get(&topic.slug)) {
        Some(None) => ctx.at_key("slug", format!("unknown slug {:?}: not in catalog.tsv", topic.slug)),
        Some(Some((flow, _))) if *flow != topic.flow => ctx.at_key("flow", format!("flow {} but the catalog says choix {flow}", topic.flow)),
        _ => {}
    }
    if topic.flow != 2 && topic.flow != 3 {
        ctx.at_key("flow", format!("flow must be 2 or 3, got {}", topic.flow));
    }
    if topic.title.trim().is_empty() {
        ctx.at_key("title", "title is empty".into());
    } else if let Some(m) = draft_marker(&topic.title).or_else(|| speech_form(&topic.title)) {
        ctx.at_key("title", format!("title: {m}"));
    }
    match (topic.action, topic.procedure) {
        (Action::Procedure, None) => ctx.at_key("action", "action = \"procedure\" needs procedure = ...".into()),
        (a, Some(_)) if a != Action::Procedure => ctx.at_key("procedure", "procedure is only read when action = \"procedure\"".into()),
        _ => {}
    }
    let _: Option<Procedure> = topic.procedure;
    if topic.keywords.iter().all(|k| k.trim().is_empty()) {
        ctx.at_key("keywords", "keywords is missing or empty".into());
    }
    if topic.examples.len() < MIN_EXAMPLES {
        ctx.at_key("examples", format!("{} examples, at least {MIN_EXAMPLES} needed", topic.examples.len()));
    }
    let min = if topic.action == Action::Answer { Some(MIN_ANSWER_SECONDS) } else { None };
    check_spoken(&mut ctx, "answer", &topic.answer, min, MAX_ANSWER_SECONDS);
    if let Some(short) = &topic.short_answer {
        check_spoken(&mut ctx, "short_answer", short, None, MAX_SHORT_ANSWER_SECONDS);
    }
    if let Some(f) = &topic.follow_up {
        if f.trim().is_empty() {
            ctx.at_key("follow_up", "follow_up is empty (remove it or fill it)".into());
        } else if let Some(m) = draft_marker(f).or_else(|| speech_form(f)) {
            ctx.at_key("follow_up", format!("follow_up: {m}"));
        }
    }
    if topic.sources.is_empty() {
        ctx.at_key("sources", "at least one source URL is needed".into());
    }
    for url in &topic.sources {
        if let Err(reason) = host_allowed(url.trim()) {
            ctx.at_value("sources", url, reason);
        }
    }
    let r = &topic.reviewed;
    match (&r.date, &r.time) {
        (Some(d), None) if r.offset.is_none() => {
            if (i32::from(d.year), d.month, d.day) > today {
                ctx.at_key("reviewed", format!("reviewed date {r} is in the future"));
            }
        }
        _ => ctx.at_key("reviewed", format!("reviewed must be a plain date like 2026-11-23, got {r}")),
    }
}

/// Estimated speaking time of one topic's answer, for the per-topic listing of
/// `ivr knowledge check`.
#[derive(Debug, Clone, PartialEq)]
pub struct AnswerDuration {
    pub slug: String,
    pub file: std::path::PathBuf,
    /// Line of `answer =` in the topic file.
    pub line: usize,
    pub seconds: f64,
}

impl AnswerDuration {
    /// Said in more than [`WARN_ANSWER_SECONDS`] (but still accepted up to
    /// [`MAX_ANSWER_SECONDS`]).
    pub fn is_long(&self) -> bool {
        self.seconds > WARN_ANSWER_SECONDS
    }

    /// The warning threshold, [`WARN_ANSWER_SECONDS`].
    pub fn warn_seconds(&self) -> f64 {
        WARN_ANSWER_SECONDS
    }
}

impl KnowledgeBase {
    /// Every topic's estimated answer duration, in slug order.
    pub fn answer_durations(&self) -> Vec<AnswerDuration> {
        self.topics
            .iter()
            .map(|e| AnswerDuration {
                slug: e.topic.slug.clone(),
                file: e.source.path.clone(),
                line: e.source.line_of_key("answer"),
                seconds: spoken_seconds(&e.topic.answer),
            })
            .collect()
    }

    /// Every content problem, in file order. `today` = (year, month, day), given by the
    /// caller so the check is reproducible.
    pub fn check(&self, today: (i32, u8, u8)) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        let catalog_path = self.dir.join("catalog.tsv");
        match &self.catalog {
            None => out.push(Diagnostic::new(&catalog_path, 1, "catalog.tsv is missing")),
            Some(c) => {
                let present: BTreeSet<&str> = self.topics.iter().map(|t| t.topic.slug.as_str()).collect();
                let mut by_line: Vec<_> = c.topics.iter().collect();
                by_line.sort_by_key(|(_, (_, line))| *line);
                for (slug, (_, line)) in by_line {
                    if !present.contains(slug.as_str()) {
                        out.push(Diagnostic::new(&c.path, *line, format!("no topic file {slug}.toml")));
                    }
                }
            }
        }
        let mut seen_slugs = BTreeMap::new();
        for e in &self.topics {
            if let Some(first) = seen_slugs.insert(e.topic.slug.clone(), e.source.path.clone()) {
                let line = e.source.line_of_key("slug");
                out.push(Diagnostic::new(&e.source.path, line, format!("slug {} also used by {}", e.topic.slug, first.display())));
            }
            check_topic(self, &e.topic, &e.source, today, &mut out);
        }
        for name in ["@agent", "@none"] {
            if self.intent(name).is_none() {
                let file = self.dir.join("_intents").join(format!("{}.toml", &name[1..]));
                out.push(Diagnostic::new(file, 1, format!("missing intent file for {name}")));
            }
        }
        for e in &self.intents {
            let stem = e.source.path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
            let line = e.source.line_of_key("intent");
            if e.intent.intent != "@agent" && e.intent.intent != "@none" {
                out.push(Diagnostic::new(&e.source.path, line, format!("intent must be \"@agent\" or \"@none\", got {:?}", e.intent.intent)));
            } else if e.intent.intent[1..] != *stem {
                out.push(Diagnostic::new(&e.source.path, line, format!("intent {} must live in {}.toml", e.intent.intent, &e.intent.intent[1..])));
            }
            if e.intent.examples.len() < MIN_EXAMPLES {
                let line = e.source.line_of_key("examples");
                out.push(Diagnostic::new(&e.source.path, line, format!("{} examples, at least {MIN_EXAMPLES} needed", e.intent.examples.len())));
            }
        }
        self.check_duplicates(&mut out);
        out
    }

    /// The same phrasing under two intents teaches the matcher a contradiction.
    fn check_duplicates(&self, out: &mut Vec<Diagnostic>) {
        let mut owners: BTreeMap<String, (String, std::path::PathBuf)> = BTreeMap::new();
        let all = self
            .topics
            .iter()
            .map(|e| (e.topic.slug.as_str(), &e.topic.examples, &e.source))
            .chain(self.intents.iter().map(|e| (e.intent.intent.as_str(), &e.intent.examples, &e.source)));
        for (owner, examples, src) in all {
            for ex in examples {
                let key = fold_text(ex);
                let line = src.line_of_value("examples", ex);
                if key.is_empty() {
                    out.push(Diagnostic::new(&src.path, line, "empty example"));
                    continue;
                }
                match owners.get(&key) {
                    Some((o, _)) if o == owner => out.push(Diagnostic::new(&src.path, line, format!("example {ex:?} is written twice"))),
                    Some((o, p)) => out.push(Diagnostic::new(&src.path, line, format!("example {ex:?} is also an example of {o} ({})", p.display()))),
                    None => {
                        owners.insert(key, (owner.to_string(), src.path.clone()));
                    }
                }
            }
        }
    }
}

/// (year, month, day) of a Unix time in UTC, for [`KnowledgeBase::check`]'s `today`
/// (days-to-civil conversion of H. Hinnant's `chrono`-compatible algorithms).
pub fn utc_date(unix_seconds: u64) -> (i32, u8, u8) {
    let z = (unix_seconds / 86_400) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
    (year, month, day)
}

#[cfg(test)]
mod duration_and_host_tests {
    use super::*;

    #[test]
    fn service_public_gouv_and_partner_sites_are_official_sources() {
        for url in [
            "https://www.service-public.gouv.fr/particuliers/vosdroits/F19778",
            "https://www.service-public.fr/particuliers/vosdroits/F19778",
            "https://www.ameli.fr/assure",
            "https://www.francetravail.fr",
            "https://monparcourshandicap.gouv.fr/aidant",
        ] {
            assert!(host_allowed(url).is_ok(), "{url}");
        }
        assert!(host_allowed("https://www.example.com/caf.fr").is_err());
        assert!(host_allowed("https://fake-service-public.gouv.fr.example.com").is_err());
    }

    #[test]
    fn long_answer_is_flagged_from_forty_seconds() {
        let d = |seconds| AnswerDuration { slug: "x".into(), file: "x.toml".into(), line: 1, seconds };
        assert!(!d(40.0).is_long());
        assert!(d(40.4).is_long());
        assert_eq!(d(1.0).warn_seconds(), WARN_ANSWER_SECONDS);
        // 101 words at 2.5 words/s
        assert!(spoken_seconds(&"mot ".repeat(101)) > WARN_ANSWER_SECONDS);
    }
}
