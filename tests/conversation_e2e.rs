//! The conversation end to end: SIPp calls `ivr serve` (real Whisper model, Silero VAD,
//! matcher, rendered prompts, SQLite accounting) and speaks questions rendered with the
//! project's voice; the bot's path is read from its per-call log lines.

mod conversation_common;

use std::time::Duration;

use conversation_common::{call, scenario, speak, write_pcap, Server, Step};

/// Questions written for this test (not from the development set), one per topic.
const QUESTIONS: &[(&str, &str)] = &[
    ("rsa", "Comment est-ce que je peux toucher le RSA ?"),
    ("mot-de-passe-oublie", "J'ai oublié mon mot de passe, je ne peux plus me connecter."),
    ("attestation-paiement", "Il me faut une attestation de paiement pour mon propriétaire."),
    ("prime-activite", "Je voudrais savoir si je peux avoir la prime d'activité avec mon petit salaire."),
    ("date-paiement", "Quel jour sont versées les allocations ce mois-ci ?"),
    ("aide-logement-etudiant", "Je suis étudiant et je cherche une aide pour payer mon loyer."),
    ("changer-coordonnees-bancaires", "Je veux changer le compte bancaire sur lequel vous me versez les aides."),
    ("pension-alimentaire-aripa", "Mon ex-conjoint ne me paie plus la pension alimentaire des enfants."),
    ("creer-mon-compte", "Je n'arrive pas à créer mon compte sur le site de la caf."),
    ("naissance-paje", "Je vais avoir un bébé, quelles sont les aides pour la naissance ?"),
    ("aah", "Je suis un adulte handicapé, quelle allocation je peux recevoir ?"),
    ("allocations-familiales", "À partir de combien d'enfants on touche les allocations familiales ?"),
];

/// Recognition of synthetic speech is not perfect: at least this many topics must be
/// answered right (the issue asks for 10 different topics).
const MIN_RIGHT: usize = 10;

/// The caller speaks during the greeting (barge-in), keeps the line open while the bot
/// thinks and starts the answer, then hangs up.
fn ask(server: &Server, dir: &std::path::Path, slug: &str, text: &str) -> Result<(), String> {
    let speech = speak(text, dir, slug);
    let pcap = dir.join(format!("{slug}.pcap"));
    let speech_ms = speech.len() as u32 / 8;
    write_pcap(&pcap, &speech, 300, 17000);
    let call_id = format!("q-{slug}-{}", std::process::id());
    let steps = [Step::Pause(1500), Step::Audio(pcap), Step::Pause(300 + speech_ms + 16000)];
    let xml = scenario("0612345678", 2, &steps);
    let (ok, out) = call(server, &call_id, &xml, Duration::from_secs(50));
    let log = server.call_log(&call_id);
    let answered = format!("play key=answer/{slug}");
    if !ok {
        return Err(format!("{slug}: sipp failed: {out}\n{log}"));
    }
    if !server.wait_call_log(&call_id, &answered, Duration::from_secs(2)) {
        return Err(format!("{slug}: answer not played\n{log}"));
    }
    Ok(())
}

#[test]
fn spoken_questions_get_their_topic_answer() {
    let server = Server::start("always-open", &["--asr-workers", "2", "--asr-threads", "1"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let started = std::time::Instant::now();
    // Two callers at a time keeps the test short on 2 cores without starving the recognizer.
    let mut failures = Vec::new();
    for chunk in QUESTIONS.chunks(2) {
        let results: Vec<Result<(), String>> = std::thread::scope(|s| {
            let handles: Vec<_> = chunk.iter().map(|(slug, text)| s.spawn(|| ask(&server, dir.path(), slug, text))).collect();
            handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Err("panicked".into()))).collect()
        });
        failures.extend(results.into_iter().filter_map(Result::err));
    }
    eprintln!("{} questions in {:.1} s", QUESTIONS.len(), started.elapsed().as_secs_f64());
    let mut lat: Vec<u64> = server
        .log_text()
        .lines()
        .filter(|l| l.contains("answer latency"))
        .filter_map(|l| l.split("latency_ms=").nth(1)?.split_whitespace().next()?.parse().ok())
        .collect();
    lat.sort_unstable();
    if !lat.is_empty() {
        let pct = |p: f64| lat[((lat.len() - 1) as f64 * p).round() as usize];
        eprintln!("speech end -> answer audio, 2 concurrent callers: n={} p50={} ms p95={} ms", lat.len(), pct(0.5), pct(0.95));
    }
    let right = QUESTIONS.len() - failures.len();
    eprintln!("{right} of {} topics answered right", QUESTIONS.len());
    assert!(right >= MIN_RIGHT, "{} of {} failed:\n{}", failures.len(), QUESTIONS.len(), failures.join("\n\n"));
    // The greeting was cut by the caller's speech on every call.
    assert!(server.log_text().matches("\"event\":\"barge_in\"").count() >= QUESTIONS.len(), "barge-ins: {}", server.log_text());
}

/// A caller who asks for a human is transferred by REFER carrying the reason headers.
#[test]
fn asking_for_an_agent_transfers_with_the_reason() {
    let server = Server::start("always-open", &["--asr-workers", "1", "--asr-threads", "2"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let speech = speak("Je voudrais parler à un conseiller, s'il vous plaît.", dir.path(), "agent");
    let pcap = dir.path().join("agent.pcap");
    write_pcap(&pcap, &speech, 300, 17000);
    let call_id = format!("agent-{}", std::process::id());
    let steps = [Step::Pause(1500), Step::Audio(pcap), Step::Pause(100), Step::ExpectRefer { header: "X-Ivr-Reason", regexp: "agent-request".into() }];
    let (ok, out) = call(&server, &call_id, &scenario("0611111111", 2, &steps), Duration::from_secs(45));
    let log = server.call_log(&call_id);
    assert!(ok, "REFER with X-Ivr-Reason: agent-request expected: {out}\n{log}");
    assert!(log.contains("target_uri=sip:agents-choix2@127.0.0.1"), "{log}");
}

/// A recognition slower than the configured wait makes the bot say it is looking, and the
/// answer still comes (here the wait is set to 300 ms so any recognition is "slow").
#[test]
fn a_slow_recognition_is_announced_then_answered() {
    let server = Server::start("always-open", &["--asr-workers", "1", "--asr-threads", "2", "--wait-prompt-after-ms", "300"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let speech = speak("Comment est-ce que je peux toucher le RSA ?", dir.path(), "slow");
    let pcap = dir.path().join("slow.pcap");
    write_pcap(&pcap, &speech, 300, 17000);
    let call_id = format!("slow-{}", std::process::id());
    let steps = [Step::Pause(1500), Step::Audio(pcap), Step::Pause(300 + speech.len() as u32 / 8 + 16000)];
    let (ok, out) = call(&server, &call_id, &scenario("0633333333", 2, &steps), Duration::from_secs(50));
    let log = server.call_log(&call_id);
    assert!(ok, "{out}\n{log}");
    let notice = log.find("play key=prompt/wait_moment").unwrap_or_else(|| panic!("no wait notice:\n{log}"));
    let answer = log.find("play key=answer/rsa").unwrap_or_else(|| panic!("no answer:\n{log}"));
    assert!(notice < answer, "the notice comes before the answer:\n{log}");
    assert_eq!(log.matches("play key=prompt/wait_moment").count(), 1, "said once:\n{log}");
}

/// Keys work at any time: 0 during the greeting reaches an agent (REFER, keypad reason).
#[test]
fn keypad_zero_during_the_greeting_transfers() {
    let server = Server::start("always-open", &["--asr-workers", "1", "--asr-threads", "1"]);
    let call_id = format!("key0-{}", std::process::id());
    let steps = [Step::Pause(1000), Step::Key('0'), Step::ExpectRefer { header: "X-Ivr-Reason", regexp: "keypad0".into() }];
    let (ok, out) = call(&server, &call_id, &scenario("0622222222", 3, &steps), Duration::from_secs(30));
    let log = server.call_log(&call_id);
    assert!(ok, "{out}\n{log}");
    assert!(log.contains("\"event\":\"dtmf\""), "{log}");
    assert!(log.contains("target_uri=sip:agents-choix3@127.0.0.1"), "choix 3 queue: {log}");
}

/// A silent caller is asked again, then offered the keypad menu.
#[test]
fn silence_reasks_then_offers_the_keypad_menu() {
    let server = Server::start("always-open", &["--asr-workers", "1", "--asr-threads", "1"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let pcap = dir.path().join("silence.pcap");
    // Long pcaps are not replayed by SIPp: the silence is sent as a few 18 s pieces.
    write_pcap(&pcap, &[], 0, 18000);
    let call_id = format!("silent-{}", std::process::id());
    let piece = || [Step::Audio(pcap.clone()), Step::Pause(18000)];
    let steps: Vec<Step> = (0..4).flat_map(|_| piece()).collect();
    let xml = scenario("0633333333", 2, &steps);
    let srv = &server;
    let id = call_id.clone();
    std::thread::scope(|s| {
        let caller = s.spawn(move || call(srv, &id, &xml, Duration::from_secs(90)));
        let menu = srv.wait_call_log(&call_id, "play key=prompt/keypad_menu", Duration::from_secs(70));
        let log = srv.call_log(&call_id);
        assert!(menu, "keypad menu never offered: {log}");
        let reask = log.find("play key=prompt/silence_reask");
        let menu_at = log.find("play key=prompt/keypad_menu");
        assert!(reask.is_some() && reask < menu_at, "re-ask before the menu: {log}");
        let _ = caller.join();
    });
}

/// Outside opening hours the closed message plays.
#[test]
fn closed_hours_play_the_closed_message() {
    let server = Server::start("force-closed", &["--asr-workers", "1", "--asr-threads", "1"]);
    let call_id = format!("closed-{}", std::process::id());
    let (ok, out) = call(&server, &call_id, &scenario("0644444444", 2, &[Step::Pause(2500)]), Duration::from_secs(20));
    let log = server.call_log(&call_id);
    assert!(ok, "{out}\n{log}");
    assert!(log.contains("play key=prompt/closed"), "{log}");
    assert!(!log.contains("play key=prompt/greeting"), "no greeting when closed: {log}");
}

/// A spoken question whose benefit name the recognizer mangles ("le RSA" heard "le recir")
/// still reaches its topic's answer. (A question whose other words were lost too is offered
/// by the clarify question: `nlu` and dialogue unit tests `a_half_heard_…`.)
#[test]
fn a_mangled_benefit_name_still_reaches_its_topic() {
    let server = Server::start("always-open", &["--asr-workers", "1", "--asr-threads", "2"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let (slug, text) = ("rsa", "J'ai plus de revenus, est-ce que je peux toucher le RSA ?");
    let speech = speak(text, dir.path(), slug);
    let pcap = dir.path().join(format!("{slug}-mangled.pcap"));
    write_pcap(&pcap, &speech, 300, 14000);
    let call_id = format!("mangled-{slug}-{}", std::process::id());
    let steps = [Step::Pause(1500), Step::Audio(pcap), Step::Pause(300 + speech.len() as u32 / 8 + 13000)];
    let (ok, out) = call(&server, &call_id, &scenario("0644444444", 2, &steps), Duration::from_secs(50));
    let log = server.call_log(&call_id);
    assert!(ok, "sipp failed: {out}\n{log}");
    let answered = server.wait_call_log(&call_id, &format!("play key=answer/{slug}"), Duration::from_secs(2));
    let offered = log.contains("play key=prompt/clarify#0") && log.contains(&format!("play key=title/{slug}"));
    assert!(answered || offered, "neither answered nor offered:\n{log}");
}
