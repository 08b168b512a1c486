//! End-to-end over loopback: SIPp plays the caller (or a transfer peer) against
//! `ivr serve`. Each test starts its own server on free ports.

mod sip_common;

use std::time::Duration;

use sip_common::{sipp, Server};

const LIMIT: Duration = Duration::from_secs(30);

fn run_ok(server: &Server, name: &str) {
    let r = sipp(server, name, &[], LIMIT);
    assert!(r.success, "scenario {name} failed\n{}\n--- server log\n{}", r.output, server.log_text());
}

#[test]
fn options_answers_200_with_allow() {
    let s = Server::start("");
    run_ok(&s, "options");
}

#[test]
fn basic_call_with_audio_bot_hangs_up() {
    let s = Server::start("");
    run_ok(&s, "basic_bot_hangs_up");
    let log = s.log_text();
    // Greeting fully played (1 s tone), then the caller's audio played back.
    assert!(log.contains("prompt_id=greeting played_ms=1000 total_ms=1000"), "{log}");
    assert!(log.contains("prompt_id=playback"), "no play-back of the caller audio: {log}");
    assert!(log.contains("by=Bot"), "{log}");
}

#[test]
fn caller_hangs_up() {
    let s = Server::start("");
    run_ok(&s, "caller_hangs_up");
    assert!(s.wait_log("by=Caller", Duration::from_secs(3)), "{}", s.log_text());
}

#[test]
fn cancel_before_answer_gets_487() {
    let s = Server::start("ring_ms = 3000");
    run_ok(&s, "cancel_before_answer");
    assert!(s.log_text().contains("CANCEL before answer"), "{}", s.log_text());
}

#[test]
fn unsupported_codec_gets_488() {
    let s = Server::start("");
    run_ok(&s, "unsupported_codec_488");
}

#[test]
fn dtmf_by_sip_info() {
    let s = Server::start("");
    run_ok(&s, "dtmf_info");
    let log = s.log_text();
    // Keys are counted, never logged (personal data): "4#" is two keys by SIP INFO.
    assert_eq!(log.matches("dtmf digit").count(), 2, "{log}");
    assert!(log.contains("source=SipInfo"), "{log}");
    assert!(log.contains("digits=2"), "{log}");
}

#[test]
fn dtmf_by_rfc4733() {
    let s = Server::start("");
    run_ok(&s, "dtmf_rfc4733");
    assert!(s.wait_log("source=Rfc4733", Duration::from_secs(3)), "{}", s.log_text());
    let n = s.log_text().matches("source=Rfc4733").count();
    assert_eq!(n, 1, "one key press must give one digit: {}", s.log_text());
}

#[test]
fn reinvite_hold_and_resume() {
    let s = Server::start("");
    run_ok(&s, "reinvite_hold");
    let log = s.log_text();
    assert!(log.contains("hold=true") && log.contains("hold=false"), "{log}");
}

const TRANSFER: &str = "[transfer]\n2 = \"sip:agents-choix2@127.0.0.1:5999\"";

#[test]
fn refer_accepted_then_bot_hangs_up() {
    let s = Server::start(TRANSFER);
    run_ok(&s, "refer_accepted");
    assert!(s.log_text().contains("outcome=Completed"), "{}", s.log_text());
}

#[test]
fn refer_refused_falls_back() {
    let s = Server::start(TRANSFER);
    run_ok(&s, "refer_refused");
    assert!(s.log_text().contains("outcome=Refused(603)"), "{}", s.log_text());
}

#[test]
fn torture_messages_over_udp_do_not_crash_the_server() {
    let mut s = Server::start("");
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/telephony/rfc4475");
    let mut sent = 0;
    for kind in ["valid", "invalid"] {
        for e in std::fs::read_dir(root.join(kind)).expect("fixtures").flatten() {
            let bytes = std::fs::read(e.path()).expect("read fixture");
            sock.send_to(&bytes, ("127.0.0.1", s.port)).expect("send");
            sent += 1;
        }
    }
    assert!(sent >= 15);
    std::thread::sleep(Duration::from_millis(300));
    assert!(s.is_running(), "server died: {}", s.log_text());
    run_ok(&s, "options");
}
