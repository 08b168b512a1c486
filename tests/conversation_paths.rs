//! The conversation paths beyond a plain spoken question, end to end: the keypad menu
//! reached by silence, the keys offered after an answer, the safety message a caller
//! cannot cut short, the two procedures for non-allocataires (attestation de non-paiement,
//! call-back request) and the clarify question.
//! SIPp calls `ivr serve` (real Whisper model, Silero VAD, matcher, rendered prompts);
//! each caller's timeline is laid out from the rendered prompt lengths, and the bot's
//! path is read from its per-call log lines (`play key=…`, `dialogue event={…}`, which
//! carry no transcript and no digit), from the REFER headers, and from the requests the
//! procedures stored (`ivr requests`). Each test then searches the whole server log, run at
//! debug level, for the callers' numbers, what they keyed and the names and addresses they
//! dictated: none may be there.
//!
//! The calls of one test share a server and run at the same time to keep the file short.

mod conversation_common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use conversation_common::{call, clip_ms, scenario, speak, write_pcap_from, Server, Step};
use serde_json::Value;

/// The dialogue's wait for the caller after a prompt (`DialogueConfig::no_input`).
const NO_INPUT_MS: u64 = 7000;
/// One piece of line silence; SIPp does not replay long pcaps, so a call is kept alive
/// (the server hangs up after 30 s without RTP) by pieces sent one after the other.
const SILENCE_MS: u64 = 18000;
/// Silence around each spoken sentence in its pcap.
const SPEECH_LEAD_MS: u64 = 300;
const SPEECH_TAIL_MS: u64 = 1500;

/// What a caller sends, at a time counted from the call's answer.
enum Send {
    /// Speech samples (8 kHz).
    Speech(Vec<i16>),
    Key(char),
}

/// One caller's timeline, turned into SIPp steps with line silence filling the gaps.
/// Every pcap continues the call's RTP sequence numbers from where the timeline is, as
/// one phone's stream would.
struct Caller {
    dir: PathBuf,
    name: String,
    events: Vec<(u64, Send)>,
    pcaps: usize,
}

impl Caller {
    fn new(dir: &Path, name: &str) -> Caller {
        Caller { dir: dir.to_path_buf(), name: name.to_string(), events: Vec::new(), pcaps: 0 }
    }

    /// Speaks `text` from `at`; returns when the speech itself ends.
    fn say(&mut self, at: u64, text: &str) -> u64 {
        let speech = speak(text, &self.dir, &format!("{}-said{}", self.name, self.events.len()));
        let speech_ms = speech.len() as u64 / 8;
        self.events.push((at, Send::Speech(speech)));
        at + SPEECH_LEAD_MS + speech_ms
    }

    fn key(&mut self, at: u64, digit: char) {
        self.events.push((at, Send::Key(digit)));
    }

    /// A pcap starting at `at` in the call: its first packet a little ahead of the stream.
    fn pcap(&mut self, at: u64, speech: &[i16], lead_ms: u64, tail_ms: u64) -> PathBuf {
        self.pcaps += 1;
        let path = self.dir.join(format!("{}-{}.pcap", self.name, self.pcaps));
        write_pcap_from(&path, speech, lead_ms as u32, tail_ms as u32, (at / 20 + 5) as u32);
        path
    }

    /// The steps up to `until`, then `last` (or the caller's BYE when `None`).
    fn steps(mut self, until: u64, last: Option<Step>) -> Vec<Step> {
        let mut events = std::mem::take(&mut self.events);
        events.sort_by_key(|(at, _)| *at);
        let mut steps = Vec::new();
        let mut t = 0u64;
        let mut covered = 0u64;
        let fill = |me: &mut Caller, steps: &mut Vec<Step>, t: &mut u64, covered: &mut u64, upto: u64| {
            while *covered < upto {
                steps.push(Step::Pause((*covered - *t) as u32));
                *t = *covered;
                steps.push(Step::Audio(me.pcap(*t, &[], 0, SILENCE_MS)));
                *covered = *t + SILENCE_MS - 1000;
            }
        };
        for (at, send) in events {
            fill(&mut self, &mut steps, &mut t, &mut covered, at);
            steps.push(Step::Pause((at - t) as u32));
            t = at;
            match send {
                Send::Speech(speech) => {
                    steps.push(Step::Audio(self.pcap(at, &speech, SPEECH_LEAD_MS, SPEECH_TAIL_MS)));
                    covered = at + SPEECH_LEAD_MS + speech.len() as u64 / 8 + SPEECH_TAIL_MS - 500;
                }
                Send::Key(d) => steps.push(Step::Key(d)),
            }
        }
        fill(&mut self, &mut steps, &mut t, &mut covered, until);
        steps.push(Step::Pause(until.saturating_sub(t) as u32));
        steps.extend(last);
        steps
    }
}

/// One dialogue event line of the server log: its time and its JSON.
struct Logged {
    at_ms: i64,
    event: Value,
}

fn log_time_ms(line: &str) -> Option<i64> {
    let stamp = line.split_whitespace().next()?;
    Some(ivr_accounting::chrono::DateTime::parse_from_rfc3339(stamp).ok()?.timestamp_millis())
}

/// The `dialogue event={…}` lines of one call's log.
fn events(log: &str) -> Vec<Logged> {
    log.lines()
        .filter_map(|l| {
            let json = l.split_once("event=")?.1;
            let event = serde_json::Deserializer::from_str(json).into_iter::<Value>().next()?.ok()?;
            Some(Logged { at_ms: log_time_ms(l)?, event })
        })
        .collect()
}

fn of_kind<'a>(events: &'a [Logged], kind: &str) -> Vec<&'a Logged> {
    events.iter().filter(|e| e.event["event"] == kind).collect()
}

/// Time of the first log line containing `needle`.
fn line_time(log: &str, needle: &str) -> Option<i64> {
    log.lines().find(|l| l.contains(needle)).and_then(log_time_ms)
}

fn count(log: &str, needle: &str) -> usize {
    log.matches(needle).count()
}

/// Runs one caller's scenario; the call's log comes back with the verdict.
fn run(server: &Server, id: &str, from: &str, steps: &[Step], limit_ms: u64) -> (bool, String, String) {
    let call_id = format!("{id}-{}", std::process::id());
    let (ok, out) = call(server, &call_id, &scenario(from, 2, steps), Duration::from_millis(limit_ms));
    // Log lines of the call's end may follow SIPp's exit by a few milliseconds.
    server.wait_call_log(&call_id, "call finished", Duration::from_secs(3));
    (ok, out, server.call_log(&call_id))
}

/// The request a procedure of call `id` stored, as `ivr requests list --format json` gives it.
fn stored_request(server: &Server, id: &str) -> Result<Value, String> {
    // SIPp's Call-ID is "<id>-<pid>-<call number>-<sipp pid>@<address>".
    let prefix = format!("{id}-{}-", std::process::id());
    // The request is written when the procedure ends, before the call does; a few tries
    // cover a database slow to commit on a loaded machine.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let out = server.ivr(&["requests", "list", "--status", "all", "--format", "json"])?;
        let all: Vec<Value> = serde_json::from_str(&out).map_err(|e| format!("ivr requests list JSON: {e}"))?;
        let mine: Vec<&Value> = all.iter().filter(|r| r["call_id"].as_str().is_some_and(|c| c.starts_with(&prefix))).collect();
        match mine.as_slice() {
            [one] => return Ok((*one).clone()),
            [] if std::time::Instant::now() < deadline => std::thread::sleep(Duration::from_millis(200)),
            _ => return Err(format!("one stored request for {prefix}… expected, got {}: {all:?}", mine.len())),
        }
    }
}

/// What the callers of these tests gave that is theirs: the whole server log (debug level)
/// must hold none of it.
const PERSONAL: &[&str] = &[
    "655500001",
    "655500002",
    "655500003",
    "655500004",
    "655500005",
    "655500006",
    "612345678",
    "martin",
    "claire",
    "tilleul",
    "nantes",
    "durand",
    "paul",
    "mille neuf cent",
    "douze mai",
];

fn assert_no_personal_data_in(server: &Server) {
    let log = server.log_text().to_lowercase();
    assert!(log.lines().count() > 50, "the debug log is there: {log}");
    let found: Vec<String> = PERSONAL.iter().filter_map(|p| log.lines().find(|l| l.contains(p)).map(|l| format!("{p:?} in: {l}"))).collect();
    assert!(found.is_empty(), "personal data in the server log:\n{}", found.join("\n"));
}

/// Runs the paths at the same time on one server; every failure is reported.
/// One path of a test: its name and the function that runs its caller.
type NamedPath<'a> = (&'a str, &'a (dyn Fn(&Server, &Path) -> Result<(), String> + Sync));

fn run_paths(server: &Server, paths: &[NamedPath]) {
    let dir = tempfile::tempdir().expect("tempdir");
    let started = std::time::Instant::now();
    let failures: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = paths.iter().map(|(name, f)| (name, s.spawn(|| f(server, dir.path())))).collect();
        handles
            .into_iter()
            .filter_map(|(name, h)| match h.join() {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(format!("{name}: {e}")),
                Err(_) => Some(format!("{name}: panicked")),
            })
            .collect()
    });
    eprintln!("{} paths in {:.1} s", paths.len(), started.elapsed().as_secs_f64());
    // The callers' timelines assume the recognizer answers within ~10 s: say so when it did not.
    let slowest = server.log_text().lines().filter_map(|l| l.split("asr_ms=").nth(1)?.split_whitespace().next()?.parse::<u64>().ok()).max();
    assert!(failures.is_empty(), "slowest recognition: {slowest:?} ms\n{}", failures.join("\n\n"));
}

/// The keys that reach `slug` in prompts.toml's two-level keypad menu: a digit of
/// `[keypad_menu.options]`, or the digit `d` of a group `[keypad_menu_<d>]` then a digit
/// of its options.
fn keypad_keys(slug: &str) -> Option<Vec<char>> {
    let text = std::fs::read_to_string(conversation_common::root().join("prompts/prompts.toml")).expect("prompts.toml");
    let options = |table: &str| -> Vec<(char, String)> {
        text.lines()
            .skip_while(|l| l.trim() != format!("[{table}.options]"))
            .skip(1)
            .take_while(|l| !l.trim_start().starts_with('['))
            .filter_map(|l| {
                let (k, v) = l.split_once('=')?;
                Some((k.trim().chars().next()?, v.trim().trim_matches('"').to_string()))
            })
            .collect()
    };
    let find = |table: &str| options(table).into_iter().find(|(_, s)| s == slug).map(|(d, _)| d);
    if let Some(d) = find("keypad_menu") {
        return Some(vec![d]);
    }
    ('1'..='9').find_map(|g| find(&format!("keypad_menu_{g}")).map(|d| vec![g, d]))
}

// ---- keypad paths -----------------------------------------------------------------------

/// Silent until the keypad menu, then the keys of the menu table (a group, then a topic of
/// it): that topic's answer.
fn keypad_menu_after_silence(server: &Server, dir: &Path) -> Result<(), String> {
    let slug = "prime-activite";
    let Some([group, digit]) = keypad_keys(slug).as_deref().and_then(|k| <[char; 2]>::try_from(k).ok()) else {
        return Err(format!("{slug} is not in a group of the keypad menu table"));
    };
    // Greeting and question, no input, re-ask, no input again: then the menu.
    let menu_at = clip_ms("prompt/greeting_choix2") + clip_ms("prompt/ask_question") + NO_INPUT_MS + clip_ms("prompt/silence_reask") + NO_INPUT_MS;
    let press = menu_at + (clip_ms("prompt/keypad_menu") / 3).min(6000);
    // The group's own menu is cut by the second key, as a caller who knows does.
    let second = press + 2500;
    let mut caller = Caller::new(dir, "menu");
    caller.key(press, group);
    caller.key(second, digit);
    let steps = caller.steps(second + 3000, None);
    let (ok, out, log) = run(server, "menu", "0655500001", &steps, second + 20_000);
    if !ok {
        return Err(format!("sipp failed: {out}\n{log}"));
    }
    let menu = log.find("play key=prompt/keypad_menu ").ok_or_else(|| format!("no keypad menu: {log}"))?;
    let reask = log.find("play key=prompt/silence_reask").ok_or_else(|| format!("no re-ask before the menu: {log}"))?;
    let level2 = log.find(&format!("play key=prompt/keypad_menu_{group}")).ok_or_else(|| format!("key {group}: group menu not played\n{log}"))?;
    let answer = log.find(&format!("play key=answer/{slug}")).ok_or_else(|| format!("keys {group}{digit}: answer/{slug} not played\n{log}"))?;
    if !(reask < menu && menu < level2 && level2 < answer) {
        return Err(format!("re-ask, menu, group menu, answer out of order: {log}"));
    }
    let evs = events(&log);
    if of_kind(&evs, "dtmf").len() < 2 {
        return Err(format!("two dtmf events expected: {log}"));
    }
    if !of_kind(&evs, "question").is_empty() {
        return Err(format!("a silent caller asked nothing: {log}"));
    }
    Ok(())
}

/// After an answer: the repeat key replays it, the agent key transfers with its topic.
fn keys_after_an_answer(server: &Server, dir: &Path) -> Result<(), String> {
    let slug = "mot-de-passe-oublie";
    let keys = keypad_keys(slug).ok_or_else(|| format!("{slug} is not in the keypad menu table"))?;
    let answer_ms = clip_ms(&format!("answer/{slug}"));
    let mut caller = Caller::new(dir, "keys");
    // Any key but 0 while the bot asks for the question opens the keypad menu.
    caller.key(1500, '5');
    let mut at = 3500;
    for k in &keys {
        caller.key(at, *k);
        at += 1500;
    }
    let chosen = at - 1500;
    // The answer (and its follow-up) heard to its end, then 1 (repeat) during the offer
    // that follows it.
    let repeat_at = chosen + answer_ms + clip_ms(&format!("follow/{slug}")) + clip_ms("prompt/another_question") / 2;
    caller.key(repeat_at, '1');
    caller.key(repeat_at + 2500, '0');
    let refer = Step::ExpectReferHeaders(vec![("X-Ivr-Reason", "keypad0".into()), ("X-Ivr-Topic", format!("^ *{slug}$"))]);
    let steps = caller.steps(repeat_at + 2600, Some(refer));
    let (ok, out, log) = run(server, "keys", "0655500002", &steps, repeat_at + 2600 + clip_ms("prompt/transfer") + 15_000);
    if !ok {
        return Err(format!("REFER with keypad0 and X-Ivr-Topic {slug} expected: {out}\n{log}"));
    }
    let key = format!("answer/{slug}");
    if count(&log, &format!("play key={key}")) != 2 {
        return Err(format!("answer/{slug} played once, then once more for the repeat key: {log}"));
    }
    let evs = events(&log);
    let played: Vec<_> = of_kind(&evs, "played").into_iter().filter(|e| e.event["key"] == key.as_str()).collect();
    let first = played.first().ok_or_else(|| format!("no played event for {key}: {log}"))?;
    let (heard, total) = (first.event["played_ms"].as_u64().unwrap_or(0), first.event["total_ms"].as_u64().unwrap_or(0));
    if heard + 300 < total {
        return Err(format!("the first answer was cut ({heard} of {total} ms) before the repeat key: {log}"));
    }
    let offer = line_time(&log, "play key=prompt/another_question").ok_or_else(|| format!("no offer after the answer: {log}"))?;
    let replay = log.lines().filter(|l| l.contains(&format!("play key={key}"))).nth(1).and_then(log_time_ms).unwrap_or(0);
    if replay < offer {
        return Err(format!("the replay must follow the offer: {log}"));
    }
    if !log.contains(&format!("topic=Some(\"{slug}\")")) {
        return Err(format!("transfer line without the topic: {log}"));
    }
    Ok(())
}

#[test]
fn keypad_menu_and_the_keys_after_an_answer() {
    let server = Server::start_logging("always-open", &["--asr-workers", "1", "--asr-threads", "1"], "debug");
    run_paths(&server, &[("keypad menu after silence", &keypad_menu_after_silence), ("keys after an answer", &keys_after_an_answer)]);
    assert_no_personal_data_in(&server);
}

// ---- spoken paths -----------------------------------------------------------------------

/// The safety message of the violence topic plays to its end although the caller talks
/// over it, then the call goes to an agent.
fn safety_message_is_not_cut(server: &Server, dir: &Path) -> Result<(), String> {
    let slug = "aide-urgence-violences";
    let mut caller = Caller::new(dir, "urgent");
    let asked = caller.say(1500, "Mon compagnon me frappe et j'ai peur de rentrer chez moi ce soir.");
    // Inside the 20 s safety message as long as the question is recognized within ~12 s.
    let over_at = asked + 13_000;
    let over_end = caller.say(over_at, "Attendez, attendez, je voulais surtout savoir comment toucher le RSA.");
    let refer = Step::ExpectReferHeaders(vec![("X-Ivr-Reason", "urgent".into()), ("X-Ivr-Topic", format!("^ *{slug}$"))]);
    let steps = caller.steps(over_end + 500, Some(refer));
    let limit = asked + clip_ms("prompt/urgent_safety") + clip_ms("prompt/transfer") + 25_000;
    let (ok, out, log) = run(server, "urgent", "0655500003", &steps, limit);
    if !ok {
        return Err(format!("REFER with urgent and X-Ivr-Topic {slug} expected: {out}\n{log}"));
    }
    let evs = events(&log);
    let questions = of_kind(&evs, "question");
    if questions.len() != 1 || questions[0].event["intent"] != slug {
        return Err(format!("one question, understood as {slug}, expected: {log}"));
    }
    if !log.contains("play key=prompt/urgent_safety interruptible=false") {
        return Err(format!("safety message not played as non-interruptible: {log}"));
    }
    let start = line_time(&log, "play key=prompt/urgent_safety").unwrap_or(0);
    let played = of_kind(&evs, "played")
        .into_iter()
        .find(|e| e.event["key"] == "prompt/urgent_safety")
        .ok_or_else(|| format!("no played event for the safety message: {log}"))?;
    let (heard, total) = (played.event["played_ms"].as_u64().unwrap_or(0), played.event["total_ms"].as_u64().unwrap_or(0));
    if heard + 300 < total {
        return Err(format!("safety message cut: {heard} of {total} ms\n{log}"));
    }
    if let Some(b) = of_kind(&evs, "barge_in").into_iter().find(|e| e.at_ms >= start) {
        return Err(format!("barge-in during the safety message: {}\n{log}", b.event));
    }
    // The caller's words did overlap the message (else this test proves nothing).
    let t0 = line_time(&log, "call started").unwrap_or(0);
    let (over_from, over_to) = (t0 + over_at as i64 + 300, t0 + over_end as i64);
    if !(start < over_from && played.at_ms > over_to) {
        return Err(format!("the caller's speech ({over_from}..{over_to}) must fall inside the safety message ({start}..{}): {log}", played.at_ms));
    }
    let transfer = line_time(&log, "play key=prompt/transfer").unwrap_or(0);
    // The next clip is started in the same step as the end report is logged.
    if transfer + 50 < played.at_ms {
        return Err(format!("the transfer prompt must follow the whole safety message: {log}"));
    }
    Ok(())
}

/// A non-allocataire asks for an attestation de non-paiement and dictates name, date of
/// birth and address as callers do, with a pause between them: all of it is recorded.
fn attestation_procedure(server: &Server, dir: &Path) -> Result<(), String> {
    let mut caller = Caller::new(dir, "attest");
    let asked = caller.say(1500, "On me demande une attestation comme quoi je ne touche rien, je ne suis pas allocataire.");
    let details_at = asked + 3000 + clip_ms("prompt/attestation_collect");
    let name_end = caller.say(details_at, "Je m'appelle Claire Martin, née le douze mai mille neuf cent quatre-vingt-dix.");
    // A caller's pause to think of the address: longer than the end of an utterance,
    // shorter than the end of the dictation counted from the name's recognition.
    let address_end = caller.say(name_end + 3500, "J'habite huit rue des Tilleuls, à Nantes.");
    let steps = caller.steps(address_end + 12_000, None);
    let (ok, out, log) = run(server, "attest", "0655500004", &steps, address_end + 30_000);
    if !ok {
        return Err(format!("sipp failed: {out}\n{log}"));
    }
    if !log.contains("play key=prompt/attestation_collect") {
        return Err(format!("the procedure did not start: {log}"));
    }
    let evs = events(&log);
    let procs = of_kind(&evs, "procedure");
    let [p] = procs.as_slice() else {
        return Err(format!("one procedure event expected: {log}"));
    };
    if p.event["kind"] != "attestation-non-paiement" || p.event["complete"] != true {
        return Err(format!("complete attestation expected: {}\n{log}", p.event));
    }
    let record = stored_request(server, "attest")?;
    if record["kind"] != "attestation-non-paiement" || record["status"] != "new" || record["flow"] != "2" {
        return Err(format!("a new attestation request of choix 2 expected: {record}"));
    }
    if record["topic"] != "attestation-non-paiement" {
        return Err(format!("the request names the matcher's topic: {record}"));
    }
    if record.to_string().contains("655500004") {
        return Err(format!("the presented number is never stored: {record}"));
    }
    let said = record["transcript"].as_str().unwrap_or("").to_lowercase();
    let address = ["habite", "nant", "tilleu"].iter().any(|w| said.contains(w));
    if !said.contains("martin") || !address || !said.contains(" / ") {
        return Err(format!("name and address both recorded, got {said:?}\n{log}"));
    }
    if !log.contains("play key=prompt/attestation_done") {
        return Err(format!("no confirmation: {log}"));
    }
    Ok(())
}

/// A caller asks to be called back: the call-back procedure collects the name and the
/// reason said aloud, then the number keyed at once with '#' (before the words are even
/// recognized), as its prompt invites.
fn callback_request(server: &Server, dir: &Path) -> Result<(), String> {
    let number = "0612345678";
    let mut caller = Caller::new(dir, "callback");
    let asked = caller.say(1500, "Je voudrais qu'on me rappelle demain matin, s'il vous plaît.");
    let said_at = asked + 3000 + clip_ms("prompt/callback_collect");
    let said = caller.say(said_at, "Paul Durand, c'est pour une question sur l'aide au logement.");
    for (i, d) in number.chars().chain(['#']).enumerate() {
        caller.key(said + 800 + 300 * i as u64, d);
    }
    let said_end = said + 800 + 300 * (number.len() as u64 + 1);
    let steps = caller.steps(said_end + 12_000, None);
    let (ok, out, log) = run(server, "callback", "0655500006", &steps, said_end + 30_000);
    if !ok {
        return Err(format!("sipp failed: {out}\n{log}"));
    }
    if !log.contains("play key=prompt/callback_collect") {
        return Err(format!("the call-back procedure did not start: {log}"));
    }
    let evs = events(&log);
    let procs = of_kind(&evs, "procedure");
    let [p] = procs.as_slice() else {
        return Err(format!("one procedure event expected: {log}"));
    };
    if p.event["kind"] != "rappel" || p.event["complete"] != true || p.event["keyed"] != number.len() {
        return Err(format!("complete call-back request with the keyed number expected: {}\n{log}", p.event));
    }
    let record = stored_request(server, "callback")?;
    if record["kind"] != "rappel" || record["status"] != "new" || record["keyed"] != number {
        return Err(format!("a new call-back request with the keyed number expected: {record}"));
    }
    let said = record["transcript"].as_str().unwrap_or("").to_lowercase();
    if !said.contains("durand") && !said.contains("logement") {
        return Err(format!("name and reason recorded, got {said:?}\n{log}"));
    }
    if !log.contains("play key=prompt/callback_done") || log.contains("play key=prompt/transfer") {
        return Err(format!("confirmation expected, no transfer: {log}"));
    }
    Ok(())
}

/// A question between two close topics gets the clarify question; "je prends le deuxième" picks
/// the second topic named, whose answer plays.
fn clarify_then_the_second_topic(server: &Server, dir: &Path) -> Result<(), String> {
    let pair = ["changer-coordonnees-bancaires", "changer-adresse"];
    let mut caller = Caller::new(dir, "clarify");
    let asked = caller.say(1500, "Je déménage et je change de banque.");
    let clarify_ms = clip_ms("prompt/clarify#0") + clip_ms("prompt/clarify#1") + clip_ms("prompt/clarify#2");
    let titles_ms = clip_ms(&format!("title/{}", pair[0])) + clip_ms(&format!("title/{}", pair[1]));
    let reply_end = caller.say(asked + 3000 + clarify_ms + titles_ms, "Je prends le deuxième.");
    let steps = caller.steps(reply_end + 10_000, None);
    let (ok, out, log) = run(server, "clarify", "0655500005", &steps, reply_end + 25_000);
    if !ok {
        return Err(format!("sipp failed: {out}\n{log}"));
    }
    let evs = events(&log);
    let questions = of_kind(&evs, "question");
    if questions.first().map(|q| q.event["action"] != "clarify").unwrap_or(true) {
        return Err(format!("the question should be answered by the clarify question: {log}"));
    }
    // The two topics in the order the clarify prompt named them.
    let named: Vec<&str> = log.lines().filter_map(|l| l.split("play key=title/").nth(1)?.split_whitespace().next()).collect();
    let [_, second] = named.as_slice() else {
        return Err(format!("two topic titles expected in the clarify prompt: {log}"));
    };
    if !pair.contains(second) {
        return Err(format!("clarify between {pair:?} expected, named {named:?}: {log}"));
    }
    if questions.len() != 2 {
        return Err(format!("the reply to the clarify question was not heard: {log}"));
    }
    if !log.contains(&format!("play key=answer/{second}")) {
        return Err(format!("\"le deuxième\" should play answer/{second}: {log}"));
    }
    Ok(())
}

#[test]
fn spoken_paths_safety_message_procedures_clarify() {
    let server = Server::start_logging("always-open", &["--asr-workers", "2", "--asr-threads", "1"], "debug");
    run_paths(
        &server,
        &[
            ("safety message", &safety_message_is_not_cut),
            ("attestation", &attestation_procedure),
            ("call-back", &callback_request),
            ("clarify", &clarify_then_the_second_topic),
        ],
    );
    assert_no_personal_data_in(&server);
}
