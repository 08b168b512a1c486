//! `ivr bench understanding`: spoken understanding, measured the way a caller is heard.
//!
//! A labelled set of utterances is spoken by the prompt voice (SVOX Pico) in several
//! *voices* (speed and pitch through Pico's markup), passed through a telephone line
//! (300–3400 Hz band-pass, 8 kHz, added white noise at a given SNR, G.711 A-law encoded
//! and decoded), transcribed with the service's recognizer settings (as `ivr transcribe`:
//! trimmed edges, the tuned greedy decoding, the service's initial prompt) and
//! classified with the service's decision (`Matcher::classify`). Each voice prints:
//! accuracy, unsafe answers, refusals, wrong topics, clarify rate, the WER of the
//! transcripts and the most frequent confusions; the same utterances as text are the
//! first row.
//!
//! Sets: `heldout` = every Nth example phrasing of the knowledge base (`--loo-every`),
//! each classified by a matcher rebuilt without it (as `ivr bench nlu --loo-every`), with
//! the `@agent`/`@none` phrasings; `dev` = `../shared/eval/dev.tsv` against the full base.
//!
//! Renderings (`<cache>/render/*.wav`) are keyed by text + voice; transcripts
//! (`<cache>/asr/*.txt`) by rendering + model + recognizer settings: a second run only
//! classifies, so matcher changes are measured on the very same transcripts in seconds.
//! Everything is deterministic (noise from a seeded generator, greedy decoding at T = 0).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use ivr_dialogue::tts::{pronounce, Voice};
use ivr_speech::asr::{prepare_file_audio, AsrConfig, Recognizer};
use ivr_speech::audio::Audio;
use ivr_speech::eval::{normalize, spread, word_errors};
use ivr_telephony::rtp::g711::{alaw_to_linear, linear_to_alaw};
use nlu::knowledge::KnowledgeBase;
use nlu::{Decision, Matcher, NONE};

use crate::cli::knowledge::default_knowledge_dir;

#[derive(Args, Debug)]
pub struct UnderstandingArgs {
    /// `heldout` (the knowledge's own examples, every Nth held out) or `dev` (../shared/eval/dev.tsv).
    #[arg(long, default_value = "heldout")]
    pub set: String,
    /// Held-out set: every Nth example phrasing (topics, then @agent/@none) is held out.
    #[arg(long, default_value_t = 2)]
    pub loo_every: usize,
    /// The dev set's file.
    #[arg(long, default_value = "../shared/eval/dev.tsv")]
    pub dev: PathBuf,
    /// Knowledge directory (default: ./knowledge, else the one of the binary's checkout).
    #[arg(long)]
    pub knowledge: Option<PathBuf>,
    /// Voices: plain, fast-low, slow-noisy, noisy (see `VOICES`); `text` only = no speech.
    #[arg(long, value_delimiter = ',', default_value = "plain,fast-low,slow-noisy")]
    pub voices: Vec<String>,
    /// Utterances taken from the set, spread evenly over it (0 = all).
    #[arg(long, default_value_t = 40)]
    pub limit: usize,
    /// Whisper threads.
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
    /// ggml Whisper model (default: the one `ivr serve` uses).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Whisper's initial prompt: `service` (what `ivr serve` gives), `none`, `domain`
    /// (the vocabulary generated from the knowledge base) or a literal text.
    #[arg(long, default_value = "service")]
    pub prompt: String,
    /// The decision: `service` (the matcher's default), `rules` (hand-set thresholds),
    /// `calibrated` (the fitted answer / clarify / refuse model), `refuse` (a question whose
    /// words the topics half know is refused) or `confirm:SCORE` (it is offered by the
    /// clarify question when its topic scores at least SCORE).
    #[arg(long, default_value = "service")]
    pub decision: String,
    /// The phonetic key in the index: `service` (default), `on` or `off`.
    #[arg(long, default_value = "service")]
    pub phonetic: String,
    /// Field scores normalised with tantivy's document count: `service` (default), `on`, `off`.
    #[arg(long, default_value = "service")]
    pub total_idf: String,
    /// Where renderings and transcripts are cached.
    #[arg(long, default_value = "target/bench-understanding")]
    pub cache: PathBuf,
    /// Keep only the utterances whose transcripts (for every voice) are already cached:
    /// matcher changes measured in seconds on what earlier runs heard.
    #[arg(long)]
    pub cached_only: bool,
    /// Whisper decoding: 0 = the service's (greedy), N > 0 = beam search of width N.
    #[arg(long, default_value_t = 0)]
    pub beam: u8,
    /// The recognizer's alternative transcripts (an uncertain token replaced by its
    /// runner-up) read when the best one is refused: `on` (the service's) or `off`.
    #[arg(long, default_value = "on")]
    pub alternatives: String,
    /// Write every row (source, expected, transcript, decision, alternatives) to this TSV
    /// file, for analysis outside the bench. It holds transcripts of the set's sentences only.
    #[arg(long)]
    pub rows: Option<PathBuf>,
    /// Print every miss (expected → got, transcript).
    #[arg(long)]
    pub misses: bool,
    /// Fit the calibrated decision on the rows of this run (text and every voice) by
    /// cross-validation and print its coefficients (use with `--set heldout`).
    #[arg(long)]
    pub fit: bool,
}

/// `--beam`: 0 keeps the service's decoding.
fn decoding(beam: u8) -> ivr_speech::asr::Decoding {
    if beam == 0 {
        AsrConfig::default().decoding
    } else {
        ivr_speech::asr::Decoding::Beam(beam)
    }
}

/// A rendering of the prompt voice and the line it goes through.
#[derive(Debug, Clone, Copy)]
struct VoiceSpec {
    name: &'static str,
    /// Pico `<speed level>` (100 = the voice's own).
    speed: u32,
    /// Pico `<pitch level>` (100 = the voice's own).
    pitch: u32,
    /// 300–3400 Hz band-pass before the 8 kHz line.
    band: bool,
    /// White noise this many dB under the speech (None: none).
    snr_db: Option<f32>,
}

const VOICES: &[VoiceSpec] = &[
    VoiceSpec { name: "plain", speed: 100, pitch: 100, band: false, snr_db: None },
    VoiceSpec { name: "fast-low", speed: 115, pitch: 90, band: true, snr_db: Some(25.0) },
    VoiceSpec { name: "slow-noisy", speed: 90, pitch: 110, band: true, snr_db: Some(15.0) },
    VoiceSpec { name: "noisy", speed: 100, pitch: 100, band: true, snr_db: Some(10.0) },
];

impl VoiceSpec {
    fn key(&self) -> String {
        format!("s{}p{}b{}n{:?}", self.speed, self.pitch, self.band, self.snr_db)
    }
}

/// One labelled utterance; `owner` is the index of the knowledge example it was held out
/// from (heldout set).
#[derive(Debug, Clone)]
struct Item {
    /// Position in the whole set (before `--limit`): one utterance's text and spoken
    /// forms stay in one fold of the fit.
    group: usize,
    text: String,
    expected: Vec<String>,
    held: Option<Held>,
}

#[derive(Debug, Clone, Copy)]
enum Held {
    Topic(usize, usize),
    Intent(usize, usize),
}

/// What one utterance gave from one source (text or a voice).
#[derive(Debug, Clone)]
struct Row {
    item: usize,
    heard: String,
    decision: Decision,
    features: Option<nlu::calibration::Sample>,
    wer: Option<(usize, usize)>,
    /// Decided by an alternative transcript (the best one alone was refused).
    by_alternative: bool,
    alternatives: Vec<String>,
}

pub fn run(args: UnderstandingArgs) -> Result<()> {
    let dir = args.knowledge.clone().unwrap_or_else(default_knowledge_dir);
    let kb = KnowledgeBase::load(&dir).with_context(|| format!("loading {}", dir.display()))?;
    let all_items = match args.set.as_str() {
        "heldout" => heldout_items(&kb, args.loo_every.max(1)),
        "dev" => dev_items(&args.dev)?,
        other => anyhow::bail!("--set {other}: heldout or dev"),
    };
    let mut items = if args.limit == 0 { all_items.clone() } else { spread(&all_items, args.limit) };
    let voices: Vec<VoiceSpec> = args
        .voices
        .iter()
        .filter(|v| *v != "text")
        .map(|v| VOICES.iter().find(|s| s.name == v).copied().with_context(|| format!("unknown voice {v}")))
        .collect::<Result<_>>()?;

    let prompt = match args.prompt.as_str() {
        // What `ivr serve` gives the recognizer (AsrConfig's default): no prompt.
        "service" => AsrConfig::default().initial_prompt,
        "none" => None,
        "domain" => Some(nlu::vocabulary::whisper_prompt(&kb)),
        text => Some(text.to_string()),
    };
    let model = args.model.clone().unwrap_or_else(ivr_speech::model::default_model_path);
    let asr_key = {
        let config = AsrConfig { initial_prompt: prompt.clone(), decoding: decoding(args.beam), ..AsrConfig::default() };
        let len = std::fs::metadata(&model).map(|m| m.len()).unwrap_or(0);
        format!(
            "{}|{}|{:?}|{:?}|{:?}|{}",
            model.file_name().and_then(|n| n.to_str()).unwrap_or(""),
            len,
            config.decoding,
            config.preset,
            config.initial_prompt,
            config.language
        )
    };
    let tts_id = ivr_dialogue::tts::PicoVoice::french().map(|v| v.id()).unwrap_or_default();
    let keys = |text: &str, v: &VoiceSpec| {
        let rkey = hash_hex(&format!("{}|{}|{}", tts_id, v.key(), text));
        let tkey = hash_hex(&format!("{rkey}|{asr_key}"));
        (rkey, tkey)
    };
    let use_alternatives = match args.alternatives.as_str() {
        "on" => true,
        "off" => false,
        other => anyhow::bail!("--alternatives {other}: on or off"),
    };
    // Alternatives exist for greedy decoding only; with beam search there are none to wait for.
    let need_alternatives = use_alternatives && args.beam <= 1;
    if args.cached_only {
        let asr_dir = args.cache.join("asr");
        items.retain(|it| {
            voices.iter().all(|v| {
                let t = keys(&it.text, v).1;
                asr_dir.join(format!("{t}.txt")).is_file() && (!need_alternatives || asr_dir.join(format!("{t}.alt")).is_file())
            })
        });
    }
    if let Some(p) = &prompt {
        println!("initial prompt: {p}");
    }
    println!(
        "understanding bench: set {} ({} utterances{}), voices {:?}, model {}, decoding {:?}, prompt {}, decision {}, phonetic {}, total idf {}, alternatives {}",
        args.set,
        items.len(),
        if args.set == "heldout" { format!(", one example in {} held out, the matcher rebuilt without it", args.loo_every) } else { String::new() },
        voices.iter().map(|v| v.name).collect::<Vec<_>>(),
        model.display(),
        decoding(args.beam),
        prompt.as_deref().map(|p| format!("{:?}", truncate(p, 60))).unwrap_or_else(|| "none".into()),
        args.decision,
        args.phonetic,
        args.total_idf,
        args.alternatives,
    );

    // Matchers: one per held-out item (rebuilt without it), or one for the dev set.
    let mut options = build_options(&args.phonetic)?;
    match args.total_idf.as_str() {
        "service" => {}
        "on" => options.total_idf = true,
        "off" => options.total_idf = false,
        other => anyhow::bail!("--total-idf {other}: service, on or off"),
    }
    let started = Instant::now();
    let matchers: Vec<Matcher> = match args.set.as_str() {
        "heldout" => items.iter().map(|it| matcher_without(&kb, it.held, options, &args.decision)).collect::<Result<_>>()?,
        _ => vec![configure(Matcher::build_with(&kb, options)?, &args.decision)?],
    };
    let matcher_of = |i: usize| if matchers.len() == 1 { &matchers[0] } else { &matchers[i] };
    tracing::debug!(ms = started.elapsed().as_millis() as u64, "matchers built");

    let mut sources: Vec<(String, Vec<Row>)> = Vec::new();
    let text_rows: Vec<Row> = items.iter().enumerate().map(|(i, it)| classify_row(matcher_of(i), i, &it.text, &[], None, args.fit)).collect::<Result<_>>()?;
    sources.push(("text".into(), text_rows));

    if !voices.is_empty() {
        let render_dir = args.cache.join("render");
        let asr_dir = args.cache.join("asr");
        std::fs::create_dir_all(&render_dir)?;
        std::fs::create_dir_all(&asr_dir)?;
        let tts = ivr_dialogue::tts::PicoVoice::french().context("the prompt voice (SVOX Pico) to speak the utterances")?;
        let mut config = AsrConfig { threads: args.threads.max(1), decoding: decoding(args.beam), ..AsrConfig::default() };
        config.initial_prompt = prompt.clone();
        std::fs::metadata(&model).with_context(|| format!("{} (run models/fetch.sh)", model.display()))?;
        let mut recognizer: Option<(Recognizer, ivr_speech::asr::AsrWorker)> = None;
        for v in &voices {
            let t0 = Instant::now();
            let (mut rendered, mut transcribed, mut asr_ms) = (0usize, 0usize, 0u64);
            let mut rows = Vec::new();
            for (i, it) in items.iter().enumerate() {
                let (rkey, tkey) = keys(&it.text, v);
                let wav = render_dir.join(format!("{rkey}.wav"));
                let pcm = match std::fs::read(&wav).ok().and_then(|b| ivr_speech::audio::wav::read_wav_bytes(&b).ok()) {
                    Some(a) => a.samples,
                    None => {
                        let pcm = render(&tts, v, &it.text, &rkey)?;
                        write_wav(&wav, &pcm)?;
                        rendered += 1;
                        pcm.iter().map(|s| f32::from(*s) / 32768.0).collect()
                    }
                };
                let txt = asr_dir.join(format!("{tkey}.txt"));
                let alt = asr_dir.join(format!("{tkey}.alt"));
                let cached = std::fs::read_to_string(&txt).ok().and_then(|t| match std::fs::read_to_string(&alt) {
                    Ok(a) => Some((t, a.lines().map(str::to_string).collect::<Vec<_>>())),
                    Err(_) if !need_alternatives => Some((t, Vec::new())),
                    Err(_) => None,
                });
                let (heard, alternatives) = match cached {
                    Some(c) => c,
                    None => {
                        if recognizer.is_none() {
                            let r = Recognizer::load(&model, config.clone())?;
                            let w = r.worker()?;
                            recognizer = Some((r, w));
                        }
                        let (_, worker) = recognizer.as_mut().expect("loaded above");
                        let audio = Audio { rate: 8000, samples: pcm };
                        let (text, alternatives) = match prepare_file_audio(&audio)? {
                            None => (String::new(), Vec::new()),
                            Some(p16) => {
                                let t = worker.transcribe(&p16)?;
                                asr_ms += t.asr_ms;
                                (t.text, t.alternatives)
                            }
                        };
                        std::fs::write(&txt, &text)?;
                        std::fs::write(&alt, alternatives.join("\n"))?;
                        transcribed += 1;
                        (text, alternatives)
                    }
                };
                let wer = Some((word_errors(&normalize(&it.text), &normalize(&heard)), normalize(&it.text).len()));
                let alternatives = if use_alternatives { alternatives } else { Vec::new() };
                rows.push(classify_row(matcher_of(i), i, &heard, &alternatives, wer, args.fit)?);
            }
            if transcribed > 0 || rendered > 0 {
                println!(
                    "  {}: rendered {rendered}, transcribed {transcribed} (ASR {:.1} s, {:.0} ms each), {:.0} s",
                    v.name,
                    asr_ms as f64 / 1e3,
                    asr_ms as f64 / transcribed.max(1) as f64,
                    t0.elapsed().as_secs_f64()
                );
            }
            sources.push((v.name.to_string(), rows));
        }
    }

    report(&items, &sources, args.misses);
    if let Some(path) = &args.rows {
        write_rows(path, &items, &sources).with_context(|| format!("writing {}", path.display()))?;
    }
    if args.fit {
        // The text of the whole set (not only the `--limit` sample) joins the spoken rows.
        let mut extra = Vec::new();
        if items.len() < all_items.len() {
            for it in &all_items {
                let m = matcher_without(&kb, it.held, options, &args.decision)?;
                let r = classify_row(&m, 0, &it.text, &[], None, true)?;
                if let Some(s) = r.features {
                    extra.push((it.group, s.labelled(&it.expected)));
                }
            }
        }
        fit(&items, &sources, extra)?;
    }
    Ok(())
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(n).collect::<String>())
    }
}

fn build_options(phonetic: &str) -> Result<nlu::BuildOptions> {
    let mut o = nlu::BuildOptions::default();
    match phonetic {
        "service" => {}
        "on" => o.phonetic = true,
        "off" => o.phonetic = false,
        other => anyhow::bail!("--phonetic {other}: service, on or off"),
    }
    Ok(o)
}

fn configure(mut m: Matcher, decision: &str) -> Result<Matcher> {
    match decision {
        "service" => {}
        "rules" => m.calibration = None,
        "calibrated" => m.calibration = Some(nlu::calibration::Calibration::default()),
        "refuse" => m.thresholds.confirm_min = f32::INFINITY,
        other => match other.strip_prefix("confirm:").and_then(|v| v.parse::<f32>().ok()) {
            Some(v) => m.thresholds.confirm_min = v,
            None => anyhow::bail!("--decision {other}: service, rules, calibrated, refuse or confirm:SCORE"),
        },
    }
    Ok(m)
}

fn matcher_without(kb: &KnowledgeBase, held: Option<Held>, options: nlu::BuildOptions, decision: &str) -> Result<Matcher> {
    let mut kb = kb.clone();
    match held {
        Some(Held::Topic(t, x)) => {
            kb.topics[t].topic.examples.remove(x);
        }
        Some(Held::Intent(t, x)) => {
            kb.intents[t].intent.examples.remove(x);
        }
        None => {}
    }
    configure(Matcher::build_with(&kb, options)?, decision)
}

fn classify_row(m: &Matcher, item: usize, heard: &str, alternatives: &[String], wer: Option<(usize, usize)>, features: bool) -> Result<Row> {
    let ranking = m.rank(heard)?;
    // Transcripts (rows with a word error rate) get the service's spoken decision, over
    // the recognizer's alternatives too (`ivr serve`'s `understand`).
    let (decision, by_alternative) = if wer.is_none() {
        (m.decide(heard, &ranking), false)
    } else {
        let d = m.decide_heard(heard, &ranking, alternatives)?;
        let by = d != m.decide_spoken(heard, &ranking);
        (d, by)
    };
    let features = features.then(|| m.sample(&ranking));
    Ok(Row { item, heard: heard.to_string(), decision, features, wer, by_alternative, alternatives: alternatives.to_vec() })
}

/// Every `every`th example phrasing, in the order `ivr bench nlu --loo-every` takes them.
fn heldout_items(kb: &KnowledgeBase, every: usize) -> Vec<Item> {
    let mut out = Vec::new();
    let mut k = 0usize;
    for (ti, e) in kb.topics.iter().enumerate() {
        for (xi, ex) in e.topic.examples.iter().enumerate() {
            k += 1;
            if k.is_multiple_of(every) {
                out.push(Item { group: out.len(), text: ex.clone(), expected: vec![e.topic.slug.clone()], held: Some(Held::Topic(ti, xi)) });
            }
        }
    }
    for (ii, e) in kb.intents.iter().enumerate() {
        for (xi, ex) in e.intent.examples.iter().enumerate() {
            k += 1;
            if k.is_multiple_of(every) {
                out.push(Item { group: out.len(), text: ex.clone(), expected: vec![e.intent.intent.clone()], held: Some(Held::Intent(ii, xi)) });
            }
        }
    }
    out
}

fn dev_items(path: &Path) -> Result<Vec<Item>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(text
        .lines()
        .enumerate()
        .filter_map(|(i, line)| {
            let cells: Vec<&str> = line.split('\t').collect();
            if (i == 0 && cells[0] == "utterance") || cells.len() < 2 || cells[0].trim().is_empty() {
                return None;
            }
            Some(Item { group: i, text: cells[0].to_string(), expected: cells[1].split('|').map(String::from).collect(), held: None })
        })
        .collect())
}

/// Outcome of one decision against what was expected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Outcome {
    /// The right topic answered (or @agent/@none as expected).
    Right,
    /// The clarify question, and one of its two choices is right.
    ClarifyRight,
    /// A wrong topic given as an answer: the caller hears the wrong thing.
    Unsafe,
    /// The clarify question between two wrong topics.
    ClarifyWrong,
    /// Refused (@none) though a topic or a human was asked for.
    Refused,
    /// Anything else (a topic's question sent to an agent, @none asked and @agent given).
    Other,
}

fn outcome(expected: &[String], d: &Decision) -> Outcome {
    let right = |i: &str| expected.iter().any(|e| e == i);
    let is_topic = !d.intent.starts_with('@');
    if d.action == "confirm" && d.runner_up.is_none() {
        // Nothing to offer beside it: the dialogue says it did not understand.
        return Outcome::Refused;
    }
    if d.action == "clarify" || d.action == "confirm" {
        let ru = d.runner_up.as_ref().map(|r| r.intent.as_str()).unwrap_or("");
        return if right(&d.intent) || right(ru) { Outcome::ClarifyRight } else { Outcome::ClarifyWrong };
    }
    if right(&d.intent) {
        return Outcome::Right;
    }
    if is_topic {
        return Outcome::Unsafe;
    }
    if d.intent == NONE && !expected.iter().any(|e| e == NONE) {
        return Outcome::Refused;
    }
    Outcome::Other
}

/// `--rows`: one line per source and utterance, tab-separated (tabs and newlines in the
/// text become spaces).
fn write_rows(path: &Path, items: &[Item], sources: &[(String, Vec<Row>)]) -> Result<()> {
    let clean = |s: &str| s.replace(['\t', '\n', '\r'], " ");
    let mut out = String::from("source\texpected\theard\tintent\taction\tscore\trunner_up\talternatives\n");
    for (name, rows) in sources {
        for r in rows {
            let d = &r.decision;
            out.push_str(&format!(
                "{name}\t{}\t{}\t{}\t{}\t{:.3}\t{}\t{}\n",
                items[r.item].expected.join("|"),
                clean(&r.heard),
                d.intent,
                d.action,
                d.score,
                d.runner_up.as_ref().map(|u| u.intent.as_str()).unwrap_or(""),
                r.alternatives.iter().map(|a| clean(a)).collect::<Vec<_>>().join(" || ")
            ));
        }
    }
    std::fs::write(path, out)?;
    Ok(())
}

fn pct(n: usize, d: usize) -> f64 {
    100.0 * n as f64 / d.max(1) as f64
}

fn report(items: &[Item], sources: &[(String, Vec<Row>)], misses: bool) {
    println!();
    println!("  source      n   right  (of it clarify)  top-1   unsafe  refused  wrong topic  clarify   WER");
    for (name, rows) in sources {
        let n = rows.len();
        let mut count: HashMap<Outcome, usize> = HashMap::new();
        let mut top1 = 0;
        let mut wrong_topic = 0;
        let mut clarify = 0;
        let (mut errs, mut words) = (0usize, 0usize);
        let (mut by_alt, mut by_alt_right) = (0usize, 0usize);
        for r in rows {
            let it = &items[r.item];
            let o = outcome(&it.expected, &r.decision);
            *count.entry(o).or_default() += 1;
            if r.by_alternative {
                by_alt += 1;
                by_alt_right += usize::from(matches!(o, Outcome::Right | Outcome::ClarifyRight));
            }
            if it.expected.contains(&r.decision.intent) {
                top1 += 1;
            }
            if !r.decision.intent.starts_with('@') && !it.expected.contains(&r.decision.intent) {
                wrong_topic += 1;
            }
            if r.decision.action == "clarify" || r.decision.action == "confirm" {
                clarify += 1;
            }
            if let Some((e, w)) = r.wer {
                errs += e;
                words += w;
            }
        }
        let c = |o| *count.get(&o).unwrap_or(&0);
        let right = c(Outcome::Right) + c(Outcome::ClarifyRight);
        println!(
            "  {:<10} {:>3}  {:>5.1} %  {:>6}           {:>5.1} %  {:>4}    {:>5}    {:>5}        {:>5.1} %  {}",
            name,
            n,
            pct(right, n),
            c(Outcome::ClarifyRight),
            pct(top1, n),
            c(Outcome::Unsafe),
            c(Outcome::Refused),
            wrong_topic,
            pct(clarify, n),
            if words > 0 { format!("{:.1} %", pct(errs, words)) } else { "-".into() }
        );
        if by_alt > 0 {
            println!("  {:<10} decided by an alternative transcript: {by_alt} ({by_alt_right} right)", "");
        }
    }
    println!("  right = the expected topic answered, or the clarify question offering it; unsafe = a wrong topic answered;");
    println!("  refused = @none for a question with a topic (or a request for a human); wrong topic = top intent a wrong topic (unsafe + clarify).");
    for (name, rows) in sources {
        let mut pairs: BTreeMap<(String, String), usize> = BTreeMap::new();
        for r in rows {
            let it = &items[r.item];
            match outcome(&it.expected, &r.decision) {
                Outcome::Right | Outcome::ClarifyRight => {}
                _ => *pairs.entry((it.expected.join("|"), r.decision.intent.clone())).or_default() += 1,
            }
        }
        let mut pairs: Vec<_> = pairs.into_iter().collect();
        pairs.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let top: Vec<String> = pairs.iter().take(6).map(|((e, g), n)| format!("{e} → {g} ×{n}")).collect();
        if !top.is_empty() {
            println!("  confusions {name}: {}", top.join(", "));
        }
    }
    if misses {
        for (name, rows) in sources {
            for r in rows {
                let it = &items[r.item];
                let o = outcome(&it.expected, &r.decision);
                if !matches!(o, Outcome::Right | Outcome::ClarifyRight) {
                    println!(
                        "  miss {name} {:?}: {} → {} {} ({:.2}{}) :: {:?} heard {:?}{}",
                        o,
                        it.expected.join("|"),
                        r.decision.intent,
                        r.decision.action,
                        r.decision.score,
                        r.decision.runner_up.as_ref().map(|u| format!(", then {} {:.2}", u.intent, u.score)).unwrap_or_default(),
                        it.text,
                        r.heard,
                        if r.alternatives.is_empty() { String::new() } else { format!(" or {:?}", r.alternatives) }
                    );
                }
            }
        }
    }
}

/// Fits the calibrated decision on every row (text and voices), 5-fold by utterance, and
/// prints the outcome of the fitted decision next to the rules, then the coefficients.
fn fit(items: &[Item], sources: &[(String, Vec<Row>)], extra: Vec<(usize, nlu::calibration::Sample)>) -> Result<()> {
    let mut samples = Vec::new();
    for (name, rows) in sources {
        if name == "text" && !extra.is_empty() {
            continue;
        }
        for r in rows {
            let Some(s) = &r.features else { continue };
            samples.push((items[r.item].group, s.clone().labelled(&items[r.item].expected)));
        }
    }
    samples.extend(extra);
    let report = nlu::calibration::fit_report(&samples);
    println!("{report}");
    Ok(())
}

/// 128-bit FNV-1a of the key, in hex: a stable cache name (std's hasher may change
/// between Rust releases).
fn hash_hex(s: &str) -> String {
    let mut out = String::new();
    for seed in [0xcbf2_9ce4_8422_2325u64, 0x8422_2325_cbf2_9ce4] {
        let mut h = seed;
        for b in s.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        out.push_str(&format!("{h:016x}"));
    }
    out
}

/// Speaks `text` in voice `v` and sends it down a telephone line: 16 kHz Pico →
/// band-pass → 8 kHz → noise → A-law → linear, with 300 ms of line before and after.
fn render(tts: &dyn Voice, v: &VoiceSpec, text: &str, seed: &str) -> Result<Vec<i16>> {
    let spoken = pronounce::prepare(text);
    let markup = format!("<speed level=\"{}\"><pitch level=\"{}\">{spoken}</pitch></speed>", v.speed, v.pitch);
    let pcm = tts.synthesize(&markup).with_context(|| format!("speaking {text:?}"))?;
    let mut x: Vec<f32> = pcm.samples.iter().map(|s| f32::from(*s) / 32768.0).collect();
    if v.band {
        band_pass(&mut x, pcm.rate as f32);
    }
    let mut y = ivr_speech::audio::resample::resample(&x, pcm.rate, 8000)?;
    let pad = vec![0.0f32; 2400];
    y = pad.iter().chain(y.iter()).chain(pad.iter()).copied().collect();
    if let Some(snr) = v.snr_db {
        let speech: Vec<f32> = y.iter().copied().filter(|s| s.abs() > 1e-4).collect();
        let power = speech.iter().map(|s| s * s).sum::<f32>() / speech.len().max(1) as f32;
        let sigma = (power / 10f32.powf(snr / 10.0)).sqrt();
        let mut rng = Rng(u64::from_str_radix(&seed[..16], 16).unwrap_or(1) | 1);
        for s in &mut y {
            *s += sigma * rng.gauss();
        }
    }
    Ok(y.iter().map(|s| alaw_to_linear(linear_to_alaw((s * 32767.0).clamp(-32768.0, 32767.0) as i16))).collect())
}

/// xorshift64*, Box–Muller: reproducible noise.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        ((self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 40) as f32 + 0.5) / (1u64 << 24) as f32
    }

    fn gauss(&mut self) -> f32 {
        let (u, v) = (self.next(), self.next());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f32::consts::PI * v).cos()
    }
}

/// Two second-order high-passes at 300 Hz and two low-passes at 3400 Hz (RBJ biquads):
/// the telephone band.
fn band_pass(x: &mut [f32], rate: f32) {
    for (f0, high) in [(300.0, true), (300.0, true), (3400.0, false), (3400.0, false)] {
        let w = 2.0 * std::f32::consts::PI * f0 / rate;
        let (cw, alpha) = (w.cos(), w.sin() / (2.0 * std::f32::consts::FRAC_1_SQRT_2));
        let (b0, b1, b2) = if high { ((1.0 + cw) / 2.0, -(1.0 + cw), (1.0 + cw) / 2.0) } else { ((1.0 - cw) / 2.0, 1.0 - cw, (1.0 - cw) / 2.0) };
        let (a0, a1, a2) = (1.0 + alpha, -2.0 * cw, 1.0 - alpha);
        let (mut x1, mut x2, mut y1, mut y2) = (0.0f32, 0.0f32, 0.0f32, 0.0f32);
        for s in x.iter_mut() {
            let y = (b0 * *s + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2) / a0;
            x2 = x1;
            x1 = *s;
            y2 = y1;
            y1 = y;
            *s = y;
        }
    }
}

/// 8 kHz mono 16-bit PCM WAV (the dialogue's writer), atomically: a cache file is either
/// whole or absent.
fn write_wav(path: &Path, pcm: &[i16]) -> Result<()> {
    let tmp: PathBuf = path.with_extension("tmp");
    ivr_dialogue::audio::write_wav(&tmp, &ivr_dialogue::tts::Pcm { rate: ivr_dialogue::audio::PHONE_RATE, samples: pcm.to_vec() })?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_keys_are_stable_and_distinct() {
        assert_eq!(hash_hex("a"), hash_hex("a"));
        assert_ne!(hash_hex("a|plain"), hash_hex("a|noisy"));
        assert_eq!(hash_hex("x").len(), 32);
    }

    #[test]
    fn outcomes() {
        let d = |intent: &str, action: &str, ru: Option<&str>| Decision {
            text: String::new(),
            intent: intent.into(),
            score: 0.5,
            runner_up: ru.map(|r| nlu::RunnerUp { intent: r.into(), score: 0.4 }),
            action: action.into(),
        };
        let e = vec!["rsa".to_string()];
        assert_eq!(outcome(&e, &d("rsa", "answer", None)), Outcome::Right);
        assert_eq!(outcome(&e, &d("apl", "clarify", Some("rsa"))), Outcome::ClarifyRight);
        assert_eq!(outcome(&e, &d("apl", "answer", None)), Outcome::Unsafe);
        assert_eq!(outcome(&e, &d(NONE, "fallback", None)), Outcome::Refused);
        assert_eq!(outcome(&[NONE.to_string()], &d(NONE, "fallback", None)), Outcome::Right);
    }

    #[test]
    fn band_pass_keeps_speech_and_cuts_the_hum() {
        let tone = |f: f32| -> Vec<f32> { (0..16000).map(|i| (2.0 * std::f32::consts::PI * f * i as f32 / 16000.0).sin()).collect() };
        let rms = |x: &[f32]| (x[8000..].iter().map(|s| s * s).sum::<f32>() / 8000.0).sqrt();
        let (mut hum, mut voice) = (tone(50.0), tone(1000.0));
        band_pass(&mut hum, 16000.0);
        band_pass(&mut voice, 16000.0);
        assert!(rms(&hum) < 0.05, "{}", rms(&hum));
        assert!(rms(&voice) > 0.6, "{}", rms(&voice));
    }
}
