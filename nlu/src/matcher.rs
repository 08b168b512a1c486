//! The intent decision: which topic, or `@agent`, or `@none`, with a score and the
//! runner-up, so the dialogue can answer, clarify or fall back.
//!
//! A topic's score is a weighted mean of its normalised BM25 scores (see
//! [`crate::index`]): best example phrasing by stems, best by character trigrams, the
//! title + keywords, the answer text. On top of it, three guards keep wrong answers
//! away from callers:
//! - an explicit request for a human is `@agent` whatever topic it names
//!   ([`crate::agent`]); so is a best match among the `@agent` phrasings;
//! - `@none` when the best match is among the `@none` phrasings, when the score is under
//!   [`Thresholds::min_score`], or when too few of the caller's content words are known
//!   to the topics at all ([`Thresholds::min_coverage`]: "commander une pizza" shares
//!   nothing with the Caf's vocabulary even if one word happens to match);
//! - `clarify` when the runner-up topic is within [`Thresholds::clarify_ratio`] of the top.

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use crate::agent::asks_for_human;
use crate::analysis::{Analyzed, Analyzer};
use crate::calibration::{Calibration, Choice, Features, Sample};
use crate::index::{FieldScores, IndexError, IntentIndex};
use crate::knowledge::{Action, KnowledgeBase};

pub const AGENT: &str = "@agent";
pub const NONE: &str = "@none";

/// Field weights of the topic score (they sum to 1, so scores stay in ~[0, 1]).
#[derive(Debug, Clone, Copy)]
pub struct Weights {
    pub example_words: f32,
    pub intent_words: f32,
    pub example_grams: f32,
    pub meta: f32,
    pub answer: f32,
    /// Phonetic keys (only when the index has them; the others keep their share).
    pub phonetic: f32,
}

impl Default for Weights {
    fn default() -> Self {
        Weights { example_words: 0.35, intent_words: 0.20, example_grams: 0.25, meta: 0.12, answer: 0.08, phonetic: 0.10 }
    }
}

impl Weights {
    fn combine(&self, s: &FieldScores, phonetic: bool) -> f32 {
        let ph = if phonetic { self.phonetic } else { 0.0 };
        let total = self.example_words + self.intent_words + self.example_grams + self.meta + self.answer + ph;
        (self.example_words * s.example_words
            + self.intent_words * s.intent_words
            + self.example_grams * s.example_grams
            + self.meta * s.meta
            + self.answer * s.answer
            + ph * s.phonetic)
            / total
    }
}

/// Decision thresholds; the defaults are the values chosen on the dev set and checked by
/// cross-validation on the knowledge examples (see the crate documentation).
#[derive(Debug, Clone, Copy)]
pub struct Thresholds {
    /// Below this topic score the request is `@none`.
    pub min_score: f32,
    /// Share of the caller's content words the topics' vocabulary must know.
    pub min_coverage: f32,
    /// Share of the caller's content words the chosen topic itself must know: "à quelle
    /// heure ferme la mairie" matches the 3230's opening hours on two words out of three,
    /// and the unknown one is what the call is about.
    pub min_top_coverage: f32,
    /// Runner-up score / top score above which the dialogue asks which one was meant.
    pub clarify_ratio: f32,
    /// Spoken questions only ([`Matcher::decide_spoken`]): a topic scoring at least this,
    /// in a transcript whose words the topics only half know, is offered by the clarify
    /// question instead of refused. The recognizer loses words, not the topic ("comment
    /// jeter les charges l'application de la caisse"); typed text has no such excuse, so
    /// there the words' coverage still refuses. Never an answer: the caller confirms
    /// first. `INFINITY` = refuse as for text.
    pub confirm_min: f32,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds { min_score: 0.22, min_coverage: 0.5, min_top_coverage: 0.6, clarify_ratio: 0.92, confirm_min: 0.30 }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunnerUp {
    pub intent: String,
    pub score: f32,
}

/// What `ivr classify` prints and the dialogue consumes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    pub text: String,
    /// A topic slug, `@agent` or `@none`.
    pub intent: String,
    pub score: f32,
    pub runner_up: Option<RunnerUp>,
    /// `answer` | `transfer` | `redirect-choix1` | `procedure` (from the topic),
    /// `clarify` (top two too close), `confirm` (a transcript whose words were half lost:
    /// the top two are offered, never answered), `transfer` for `@agent`, `fallback` for
    /// `@none`.
    pub action: String,
}

#[derive(Debug, thiserror::Error)]
pub enum MatchError {
    #[error(transparent)]
    Index(#[from] IndexError),
}

/// Words sharing their first [`PREFIX`] letters are taken as the same word for
/// coverage: "curateur" and "curatelle", or a recogniser's "allocatio".
const PREFIX: usize = 5;

fn prefix(stem: &str) -> Option<&str> {
    (stem.len() > PREFIX && stem.is_char_boundary(PREFIX)).then(|| &stem[..PREFIX])
}

fn knows(vocab: &HashSet<String>, stem: &str) -> bool {
    vocab.contains(stem) || prefix(stem).is_some_and(|p| vocab.contains(p))
}

#[derive(Debug, Clone)]
struct TopicInfo {
    action: Action,
}

/// What [`Matcher::build_with`] indexes beyond the words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuildOptions {
    /// French phonetic keys of the words and of runs of two and three words
    /// ([`crate::phonetic`]), so a name heard as similar-sounding words still matches.
    pub phonetic: bool,
    /// Normalise each field's score by the ideal score computed with tantivy's own
    /// document count (every document of the index). Off, the per-intent fields (all
    /// phrasings, title + keywords, answer) were normalised with a smaller count, so a
    /// query made only of words every topic says ("la caf") scored far above 1.
    pub total_idf: bool,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions { phonetic: true, total_idf: false }
    }
}

/// A knowledge base made searchable. Immutable: content changes build a new one
/// (see [`crate::SharedMatcher`]).
#[derive(Debug)]
pub struct Matcher {
    analyzer: Analyzer,
    index: IntentIndex,
    topics: HashMap<String, TopicInfo>,
    /// Stems of every topic's examples, title and keywords.
    vocabulary: HashSet<String>,
    /// The same, per topic.
    topic_vocabulary: HashMap<String, HashSet<String>>,
    pub weights: Weights,
    pub thresholds: Thresholds,
    /// Whether the index holds phonetic keys.
    phonetic: bool,
    /// The fitted answer / clarify / refuse decision; `None` (the default) = the
    /// threshold rules, which measured as well on speech with far fewer clarify questions.
    pub calibration: Option<Calibration>,
}

/// Ranked intents for one utterance, before the decision.
#[derive(Debug, Clone)]
pub struct Ranking {
    pub analyzed: Analyzed,
    /// (intent, combined score), best first.
    pub ranked: Vec<(String, f32)>,
    pub coverage: f32,
    /// Share of the caller's content words (as said) known to the best topic itself.
    pub top_coverage: f32,
    /// The topic whose title and keywords match best, if any does.
    pub meta_hit: Option<String>,
    pub asks_for_human: bool,
    /// Phonetic score of the best topic (0 when the index has no phonetic keys).
    pub phonetic: f32,
}

impl Matcher {
    pub fn build(kb: &KnowledgeBase) -> Result<Matcher, MatchError> {
        Matcher::build_with(kb, BuildOptions::default())
    }

    pub fn build_with(kb: &KnowledgeBase, options: BuildOptions) -> Result<Matcher, MatchError> {
        let analyzer = Analyzer::default();
        let index = IntentIndex::build(kb, &analyzer, options.phonetic, options.total_idf)?;
        let mut vocabulary = HashSet::new();
        let mut topic_vocabulary = HashMap::new();
        let mut topics = HashMap::new();
        for e in &kb.topics {
            let t = &e.topic;
            topics.insert(t.slug.clone(), TopicInfo { action: t.action });
            let mut own = HashSet::new();
            for text in t.examples.iter().chain(&t.keywords).chain(std::iter::once(&t.title)) {
                let a = analyzer.analyze(text);
                for stem in a.stems.into_iter().chain(a.surface_stems) {
                    if let Some(p) = prefix(&stem) {
                        own.insert(p.to_string());
                    }
                    own.insert(stem);
                }
            }
            vocabulary.extend(own.iter().cloned());
            topic_vocabulary.insert(t.slug.clone(), own);
        }
        Ok(Matcher {
            analyzer,
            index,
            topics,
            vocabulary,
            topic_vocabulary,
            weights: Weights::default(),
            thresholds: Thresholds::default(),
            phonetic: options.phonetic,
            calibration: None,
        })
    }

    pub fn topic_count(&self) -> usize {
        self.topics.len()
    }

    pub fn rank(&self, text: &str) -> Result<Ranking, MatchError> {
        let analyzed = self.analyzer.analyze(text);
        let known = analyzed.surface_stems.iter().filter(|s| knows(&self.vocabulary, s)).count();
        let coverage = if analyzed.surface_stems.is_empty() { 0.0 } else { known as f32 / analyzed.surface_stems.len() as f32 };
        let human = asks_for_human(&analyzed.tokens, analyzed.stems.len());
        let scores = self.index.score(&analyzed)?;
        let names = self.index.intents();
        let meta_hit = scores.iter().filter(|(_, s)| s.meta > 0.0).max_by(|a, b| a.1.meta.total_cmp(&b.1.meta)).map(|(id, _)| names[*id].clone());
        let mut ranked: Vec<(String, f32)> = scores.iter().map(|(id, s)| (names[*id].clone(), self.weights.combine(s, self.phonetic))).collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let phonetic = ranked
            .iter()
            .find(|(i, _)| !i.starts_with('@'))
            .and_then(|(i, _)| scores.iter().find(|(id, _)| names[**id] == *i))
            .map(|(_, s)| s.phonetic)
            .unwrap_or(0.0);
        let top_coverage = ranked
            .iter()
            .find(|(i, _)| !i.starts_with('@'))
            .and_then(|(i, _)| self.topic_vocabulary.get(i))
            .map(|v| {
                let n = analyzed.surface_stems.len().max(1) as f32;
                analyzed.surface_stems.iter().filter(|s| knows(v, s)).count() as f32 / n
            })
            .unwrap_or(0.0);
        Ok(Ranking { analyzed, ranked, coverage, top_coverage, meta_hit, asks_for_human: human, phonetic })
    }

    pub fn classify(&self, text: &str) -> Result<Decision, MatchError> {
        let r = self.rank(text)?;
        Ok(self.decide(text, &r))
    }

    /// [`Matcher::classify`] for what the recognizer heard (see [`Thresholds::confirm_min`]).
    pub fn classify_spoken(&self, transcript: &str) -> Result<Decision, MatchError> {
        let r = self.rank(transcript)?;
        Ok(self.decide_spoken(transcript, &r))
    }

    /// The spoken decision over the recognizer's best transcript and its alternatives (the
    /// best one with an uncertain token replaced by its runner-up: "la prín d'activité" →
    /// "la prime d'activité"). The best transcript decides whenever it is understood or
    /// matches an out-of-scope phrasing; only when it would be refused for want of a topic
    /// does the alternative with the best-scoring topic count, and then only as the
    /// clarify question (`confirm`): the caller says which topic was meant, an alternative
    /// is never answered directly.
    pub fn classify_heard(&self, transcript: &str, alternatives: &[String]) -> Result<Decision, MatchError> {
        let r = self.rank(transcript)?;
        self.decide_heard(transcript, &r, alternatives)
    }

    /// [`Matcher::classify_heard`] on the transcript's ranking (the benchmark ranks once).
    pub fn decide_heard(&self, transcript: &str, r: &Ranking, alternatives: &[String]) -> Result<Decision, MatchError> {
        let best = self.decide_spoken(transcript, r);
        let topic_score = r.ranked.iter().find(|(i, _)| !i.starts_with('@')).map(|x| x.1).unwrap_or(0.0);
        let out_of_scope = r.ranked.iter().any(|(i, s)| i == NONE && *s >= topic_score && *s > 0.0);
        if best.intent != NONE || out_of_scope || r.asks_for_human {
            return Ok(best);
        }
        let mut found: Option<Decision> = None;
        for alt in alternatives {
            let d = self.classify_spoken(alt)?;
            if d.intent.starts_with('@') || d.runner_up.is_none() {
                continue;
            }
            if found.as_ref().is_none_or(|f| d.score > f.score) {
                found = Some(d);
            }
        }
        Ok(match found {
            Some(d) => Decision { text: transcript.to_string(), action: "confirm".into(), ..d },
            None => best,
        })
    }

    /// Features of a ranking for the calibrated decision ([`crate::calibration`]).
    pub fn features(&self, r: &Ranking) -> Features {
        let topics: Vec<&(String, f32)> = r.ranked.iter().filter(|(i, _)| !i.starts_with('@')).collect();
        let special = |name: &str| r.ranked.iter().find(|(i, _)| i == name).map(|x| x.1).unwrap_or(0.0);
        let s1 = topics.first().map(|x| x.1).unwrap_or(0.0);
        let s2 = topics.get(1).map(|x| x.1).unwrap_or(0.0);
        let slug = topics.first().map(|x| x.0.as_str());
        let names = r.meta_hit.as_deref().is_some_and(|m| Some(m) == slug);
        [
            s1,
            s2,
            s1 - s2,
            if s1 > 0.0 { s2 / s1 } else { 0.0 },
            r.coverage,
            r.top_coverage,
            special(NONE),
            special(AGENT),
            if names { 1.0 } else { 0.0 },
            (1.0 + r.analyzed.stems.len() as f32).ln(),
            r.phonetic,
        ]
    }

    /// The ranking as a calibration sample (unlabelled).
    pub fn sample(&self, r: &Ranking) -> Sample {
        let topics: Vec<&(String, f32)> = r.ranked.iter().filter(|(i, _)| !i.starts_with('@')).collect();
        // Rankings the hard rules decide (human, @agent/@none phrasing on top) are not
        // the calibrated decision's to make: no top candidate.
        let special_top = r.asks_for_human || r.analyzed.stems.is_empty() || {
            let s1 = topics.first().map(|x| x.1).unwrap_or(0.0);
            let sp = |name: &str| r.ranked.iter().find(|(i, _)| i == name).map(|x| x.1).unwrap_or(0.0);
            (sp(AGENT) > s1 && sp(AGENT) >= self.thresholds.min_score) || sp(NONE) >= s1
        };
        Sample {
            features: self.features(r),
            top: if special_top { None } else { topics.first().map(|x| x.0.clone()) },
            runner: topics.get(1).map(|x| x.0.clone()),
            top_right: false,
            runner_right: false,
            special: false,
        }
    }

    /// The decision rules for typed text, separate from ranking so thresholds can be tried
    /// cheaply.
    pub fn decide(&self, text: &str, r: &Ranking) -> Decision {
        self.decide_as(text, r, false)
    }

    /// The decision rules for a transcript: as [`Matcher::decide`], but a question whose
    /// words are half unknown is offered by the clarify question when its topic stands out.
    pub fn decide_spoken(&self, transcript: &str, r: &Ranking) -> Decision {
        self.decide_as(transcript, r, true)
    }

    fn decide_as(&self, text: &str, r: &Ranking, spoken: bool) -> Decision {
        let th = &self.thresholds;
        let topics: Vec<&(String, f32)> = r.ranked.iter().filter(|(i, _)| !i.starts_with('@')).collect();
        let special = |name: &str| r.ranked.iter().find(|(i, _)| i == name).map(|x| x.1).unwrap_or(0.0);
        let top = topics.first().map(|(i, s)| (i.clone(), *s));
        let runner = |skip: &str| topics.iter().find(|(i, _)| i != skip).map(|(i, s)| RunnerUp { intent: i.clone(), score: *s });
        let make = |intent: &str, score: f32, action: &str, runner_up: Option<RunnerUp>| Decision {
            text: text.to_string(),
            intent: intent.to_string(),
            score,
            runner_up,
            action: action.to_string(),
        };
        let top_runner = || top.as_ref().map(|(i, s)| RunnerUp { intent: i.clone(), score: *s });

        if r.asks_for_human {
            return make(AGENT, 1.0, "transfer", top_runner());
        }
        let Some((slug, score)) = top.clone() else {
            return make(NONE, 1.0, "fallback", None);
        };
        // Nothing but function words and politeness ("non merci", "oui voilà"): no
        // topic, whatever the sounds of the words met (see [`crate::phonetic`]).
        if r.analyzed.stems.is_empty() {
            return make(NONE, 1.0, "fallback", top_runner());
        }
        let agent = special(AGENT);
        let none = special(NONE);
        if agent > score && agent >= th.min_score {
            return make(AGENT, agent, "transfer", top_runner());
        }
        if none >= score {
            return make(NONE, none, "fallback", top_runner());
        }
        // One content word ("attendez", "heure") is an answer only when it names the
        // topic (its title or keywords), not when it merely occurs in a phrasing.
        let names_topic = r.analyzed.stems.len() > 1 || r.meta_hit.as_deref() == Some(slug.as_str());
        if let Some(cal) = &self.calibration {
            // The one threshold kept in front of the fitted decision: a question whose
            // words the top topic mostly does not know is not that topic's ("contester
            // une amende de stationnement" is not contesting a Caf decision).
            if r.top_coverage < th.min_top_coverage {
                return make(NONE, 1.0 - score, "fallback", top_runner());
            }
            let runner_up = runner(&slug);
            let (choice, _, _) = cal.choose(&self.features(r), runner_up.is_some());
            return match choice {
                Choice::Answer => {
                    let action = self.topics.get(&slug).map(|t| t.action.as_str()).unwrap_or("answer");
                    make(&slug, score, action, runner_up)
                }
                Choice::Clarify => make(&slug, score, "clarify", runner_up),
                Choice::Refuse => make(NONE, 1.0 - score, "fallback", top_runner()),
            };
        }
        let words_unknown = r.coverage < th.min_coverage || r.top_coverage < th.min_top_coverage;
        if score < th.min_score || !names_topic || (words_unknown && (!spoken || score < th.confirm_min)) {
            return make(NONE, 1.0 - score, "fallback", top_runner());
        }
        let runner_up = runner(&slug);
        if words_unknown {
            return make(&slug, score, "confirm", runner_up);
        }
        let action = match &runner_up {
            Some(ru) if ru.score >= score * th.clarify_ratio => "clarify".to_string(),
            _ => self.topics.get(&slug).map(|t| t.action.as_str()).unwrap_or("answer").to_string(),
        };
        make(&slug, score, &action, runner_up)
    }
}
