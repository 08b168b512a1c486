//! Issue 12 end to end: a caller asks a clear question, hears the whole answer, then
//! declines the bot's offer ("non merci, c'est tout", "non", "c'est bon merci", "au
//! revoir"). The bot says goodbye and hangs up: no procedure (the word "non" once led to
//! the attestation de non-paiement), no transfer, and the call is productive in
//! `ivr report`.
//!
//! The caller replies when it hears the offer, not at a guessed time: a test thread watches
//! the server log for the call's `play key=prompt/another_question` line and then sends
//! SIPp a cue (an OPTIONS request on the call's Call-ID) that the scenario waits for,
//! keeping the line alive with silence, before it plays the reply. So a slow recognizer on
//! a loaded machine delays the call but cannot make the reply cut the answer short.
//! What the bot did is read from the prompt keys it played, the SIP messages SIPp saw
//! (the bot's BYE, no REFER) and the call records in the database, never from transcripts.

mod conversation_common;

use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::time::Duration;

use conversation_common::{clip_ms, free_udp_port, report_figures, scenario, speak, write_pcap_from, Server, Step};

/// A question the matcher answers with one topic, written for this test.
const QUESTION: (&str, &str) = ("rsa", "Comment est-ce que je peux toucher le RSA ?");

/// How long the test waits for the bot to reach its offer after the call starts: the
/// recognition of the question on a loaded 2-core machine, the answer, its follow-up.
const OFFER_WITHIN: Duration = Duration::from_secs(150);

/// Placeholder step replaced by the wait for the cue.
const CUE: &str = "@CUE@";

/// While it waits for the cue, SIPp keeps the line alive with pieces of silence this long,
/// one after the other. SIPp does not stop a pcap when it starts the next one: the reply's
/// speech starts once the last piece has run out, as two streams at once garble both.
const SILENCE_PIECE_MS: u64 = 3000;

/// Silence at the head of the reply beyond the last piece's length: on a loaded machine
/// SIPp's thread for the piece may run late (200 ms was once not enough beside two busy
/// loops and a download: the reply came out as other words).
const REPLY_MARGIN_MS: u64 = 1000;

/// When the caller replies to the offer "répéter, autre question, conseiller…".
#[derive(Clone, Copy, Debug)]
enum When {
    /// Once the offer has started (the speech comes a few seconds into it): the caller
    /// talks over it.
    OverTheOffer,
    /// Once the offer has been said to its end.
    AfterTheOffer,
}

struct Caller {
    name: &'static str,
    from: &'static str,
    reply: &'static str,
    when: When,
}

const CALLERS: &[Caller] = &[
    Caller { name: "cest-tout", from: "0655600001", reply: "Non merci, c'est tout.", when: When::AfterTheOffer },
    // A lone, clipped "Non." is about the endpointer's shortest speech (250 ms voiced) and
    // is dropped as a noise one time in two: the plain negation is said twice.
    Caller { name: "non", from: "0655600002", reply: "Non, non.", when: When::AfterTheOffer },
    Caller { name: "cest-bon", from: "0655600003", reply: "C'est bon, merci.", when: When::OverTheOffer },
    // Pico's "Au revoir." alone comes out of Whisper as other words; with "merci" it does not.
    Caller { name: "au-revoir", from: "0655600004", reply: "Au revoir, merci.", when: When::OverTheOffer },
];

/// The SIPp steps between the question and the reply: a piece of line silence, again and
/// again, until the cue (an OPTIONS) arrives.
fn cue_loop(silence: &Path) -> String {
    format!(
        "  <label id=\"7\"/>\n  <nop><action><exec play_pcap_audio=\"{}\"/></action></nop>\n  <recv request=\"OPTIONS\" timeout=\"{}\" ontimeout=\"7\"/>\n",
        silence.display(),
        SILENCE_PIECE_MS - 20
    )
}

/// The cue: a request on the call's Call-ID, sent once to SIPp's port (loopback).
fn send_cue(sipp_port: u16, call_id: &str) -> Result<(), String> {
    let sock = UdpSocket::bind("127.0.0.1:0").map_err(|e| format!("cue socket: {e}"))?;
    let me = sock.local_addr().map_err(|e| format!("cue socket: {e}"))?;
    let msg = format!(
        "OPTIONS sip:caller@127.0.0.1:{sipp_port} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bK-cue-{}\r\nFrom: <sip:test@127.0.0.1>;tag=cue\r\nTo: <sip:caller@127.0.0.1>\r\nCall-ID: {call_id}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
        std::process::id()
    );
    sock.send_to(msg.as_bytes(), ("127.0.0.1", sipp_port)).map_err(|e| format!("cue send: {e}"))?;
    Ok(())
}

/// One caller's call: question, cue on the offer, reply, the bot's BYE expected.
/// Returns the Call-ID prefix and the call's log.
fn decline(server: &Server, dir: &Path, c: &Caller) -> Result<(String, String), String> {
    let prefix = format!("decline-{}-{}", c.name, std::process::id());
    let call_id = format!("{prefix}-1@127.0.0.1");
    let question = speak(QUESTION.1, dir, &format!("{}-q", c.name));
    let question_ms = question.len() as u64 / 8;
    let q_pcap = dir.join(format!("{}-q.pcap", c.name));
    write_pcap_from(&q_pcap, &question, 300, 2000, 0);
    // Each piece far from the others in RTP numbering: the receiver follows the new
    // numbering of every piece (RFC 3550 A.1), as it would a phone's restarted stream.
    let silence = dir.join(format!("{}-silence.pcap", c.name));
    write_pcap_from(&silence, &[], 0, SILENCE_PIECE_MS as u32, 10_000);
    let reply = speak(c.reply, dir, &format!("{}-r", c.name));
    let r_pcap = dir.join(format!("{}-r.pcap", c.name));
    write_pcap_from(&r_pcap, &reply, (SILENCE_PIECE_MS + REPLY_MARGIN_MS) as u32, 16_000, 30_000);
    let steps = [
        Step::Pause(1500),
        Step::Audio(q_pcap),
        Step::Pause((300 + question_ms + 1500) as u32),
        Step::Audio(PathBuf::from(CUE)),
        Step::Audio(r_pcap),
        Step::ExpectBye,
    ];
    let placeholder = format!("  <nop><action><exec play_pcap_audio=\"{CUE}\"/></action></nop>\n");
    let xml = scenario(c.from, 2, &steps);
    if !xml.contains(&placeholder) {
        return Err(format!("the scenario has no cue placeholder: {xml}"));
    }
    let xml = xml.replace(&placeholder, &cue_loop(&silence));
    let sf = dir.join(format!("{}.xml", c.name));
    std::fs::write(&sf, xml).map_err(|e| format!("write scenario: {e}"))?;
    let sipp_port = free_udp_port();
    let limit = OFFER_WITHIN + Duration::from_secs(60);
    // SIPp takes the last -p and -cid_str given: its port and the Call-ID are ours.
    let cid = format!("{prefix}-%u@127.0.0.1");
    let port = sipp_port.to_string();
    std::thread::scope(|s| {
        let caller = s.spawn(|| conversation_common::run_sipp(server.port, &sf, &["-cid_str", &cid, "-p", &port], limit, &["errors.log"]));
        let offer = server.wait_call_log(&prefix, "play key=prompt/another_question", OFFER_WITHIN);
        let cued = if offer {
            if let When::AfterTheOffer = c.when {
                // The offer's own length after it started (and the line's delay): the reply's
                // speech then begins within the bot's wait for an answer (7 s).
                std::thread::sleep(Duration::from_millis(clip_ms("prompt/another_question") + 500));
            }
            send_cue(sipp_port, &call_id)
        } else {
            Err(format!("the offer after the answer was not played within {OFFER_WITHIN:?}"))
        };
        let (ok, logs) = caller.join().map_err(|_| "sipp thread panicked".to_string())?;
        // The last log lines of the call may follow SIPp's exit by a few milliseconds.
        server.wait_call_log(&prefix, "call finished", Duration::from_secs(5));
        let log = server.call_log(&prefix);
        let sipp_errors: String = logs.into_iter().map(|(_, t)| t).collect();
        cued.map_err(|e| format!("{e}\n{log}"))?;
        if !ok {
            return Err(format!("SIPp did not get the bot's BYE after the reply: {sipp_errors}\n{log}"));
        }
        Ok((prefix.clone(), log))
    })
}

/// What the bot played on this call, in order (`play key=…` lines).
fn played(log: &str) -> Vec<String> {
    log.lines().filter_map(|l| l.split("play key=").nth(1)?.split_whitespace().next().map(String::from)).collect()
}

fn check_log(c: &Caller, log: &str) -> Result<(), String> {
    let keys = played(log);
    let answer = format!("answer/{}", QUESTION.0);
    let at = |k: &str| keys.iter().position(|x| x == k);
    let (Some(a), Some(offer), Some(bye)) = (at(&answer), at("prompt/another_question"), at("prompt/goodbye")) else {
        return Err(format!("{}: answer, offer and goodbye expected, played {keys:?}", c.name));
    };
    if !(a < offer && offer < bye) {
        return Err(format!("{}: answer, offer, goodbye out of order: {keys:?}", c.name));
    }
    // The goodbye is the reply's doing: nothing else was said in between (no hint, no
    // question asked again, no procedure), and nothing after it. Only "un petit instant"
    // may come first, when the reply's recognition is slow.
    let between: Vec<&String> = keys[offer + 1..bye].iter().filter(|k| *k != "prompt/wait_moment").collect();
    if !between.is_empty() || bye + 1 != keys.len() {
        return Err(format!("{}: the goodbye must follow the offer and end the call: {keys:?}", c.name));
    }
    for k in ["prompt/attestation_collect", "prompt/callback_collect", "prompt/transfer", "prompt/repeat_hint"] {
        if keys.iter().any(|x| x == k) {
            return Err(format!("{}: {k} played: {keys:?}", c.name));
        }
    }
    Ok(())
}

/// The call's `<call …>…</call>` element of `ivr report export --format xml`.
fn exported<'a>(xml: &'a str, prefix: &str) -> Option<&'a str> {
    let start = xml.find(&format!("<call id=\"{prefix}-"))?;
    let len = xml[start..].find("</call>")?;
    Some(&xml[start..start + len])
}

fn attr<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let from = line.find(&format!(" {name}=\""))? + name.len() + 3;
    let len = line[from..].find('"')?;
    Some(&line[from..from + len])
}

/// From the stored record: the bot ended the call after two questions (the question and
/// the reply), the answer heard to its end, the offer then the goodbye, no transfer,
/// productive.
fn check_record(c: &Caller, call: &str) -> Result<(), String> {
    let head = call.lines().next().unwrap_or("");
    if attr(head, "ended_by") != Some("bot") {
        return Err(format!("{}: ended by the bot expected: {call}", c.name));
    }
    if call.contains("<transfer ") {
        return Err(format!("{}: no transfer expected: {call}", c.name));
    }
    let questions = call.lines().filter(|l| l.trim_start().starts_with("<question ")).count();
    if questions != 2 {
        return Err(format!("{}: the question and the reply were heard, {questions} question(s) recorded: {call}", c.name));
    }
    let plays: Vec<&str> = call.lines().filter(|l| l.trim_start().starts_with("<play ")).collect();
    let answer = plays
        .iter()
        .find(|l| attr(l, "kind") == Some("answer") && attr(l, "name") == Some(QUESTION.0))
        .ok_or_else(|| format!("{}: no answer play recorded: {call}", c.name))?;
    let n = |l: &str, a: &str| attr(l, a).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    if n(answer, "played_ms") + 300 < n(answer, "total_ms") || n(answer, "total_ms") == 0 {
        return Err(format!("{}: the answer was not heard to its end: {answer}", c.name));
    }
    let last = plays.last().and_then(|l| attr(l, "name"));
    if last != Some("prompt/goodbye") {
        return Err(format!("{}: the goodbye is the last thing played: {call}", c.name));
    }
    if !call.lines().any(|l| l.contains("<sc32 ") && attr(l, "productive") == Some("true")) {
        return Err(format!("{}: the call is not productive: {call}", c.name));
    }
    Ok(())
}

#[test]
fn declining_after_the_answer_ends_the_call_productive() {
    // At debug level the log of a failure holds the utterances' boundaries (never words).
    let mut server = Server::start_logging("always-open", &["--asr-workers", "2", "--asr-threads", "1"], "debug,tantivy=warn,sqlx=warn");
    let dir = tempfile::tempdir().expect("tempdir");
    let started = std::time::Instant::now();
    // Two callers at a time: the recognizer has two workers on two cores.
    let mut done = Vec::new();
    let mut failures = Vec::new();
    for pair in CALLERS.chunks(2) {
        let results: Vec<Result<(String, String), String>> = std::thread::scope(|s| {
            let handles: Vec<_> = pair.iter().map(|c| s.spawn(|| decline(&server, dir.path(), c))).collect();
            handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Err("panicked".into()))).collect()
        });
        for (c, r) in pair.iter().zip(results) {
            match r.and_then(|(prefix, log)| check_log(c, &log).map(|()| prefix).map_err(|e| format!("{e}\n{log}"))) {
                Ok(prefix) => done.push((c, prefix)),
                Err(e) => failures.push(e),
            }
        }
    }
    eprintln!("{} callers in {:.1} s", CALLERS.len(), started.elapsed().as_secs_f64());
    let slowest = server.log_text().lines().filter_map(|l| l.split("asr_ms=").nth(1)?.split_whitespace().next()?.parse::<u64>().ok()).max();
    assert!(failures.is_empty(), "slowest recognition: {slowest:?} ms\n{}", failures.join("\n\n"));
    server.stop();

    let day = ivr_accounting::paris_day(ivr_accounting::chrono::Utc::now()).to_string();
    let xml = server.ivr(&["report", "export", "--from", &day, "--to", &day, "--format", "xml"]).unwrap_or_else(|e| panic!("{e}"));
    for (c, prefix) in &done {
        let call = exported(&xml, prefix).unwrap_or_else(|| panic!("{}: call {prefix} not exported:\n{xml}", c.name));
        if let Err(e) = check_record(c, call) {
            panic!("{e}");
        }
    }
    let text = server.ivr(&["report", "--from", &day, "--to", &day, "--format", "json"]).unwrap_or_else(|e| panic!("{e}"));
    let json: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    let f = report_figures(&json).unwrap_or_else(|| panic!("no figures in {text}"));
    let n = |k: &str| f.get(k).and_then(serde_json::Value::as_f64).unwrap_or(-1.0);
    let callers = CALLERS.len() as f64;
    assert_eq!(n("calls"), callers, "{text}");
    assert_eq!(n("transferred"), 0.0, "{text}");
    assert_eq!(n("productive"), callers, "every declining caller heard the answer and left satisfied: {text}");
}
