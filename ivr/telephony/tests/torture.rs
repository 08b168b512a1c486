//! RFC 4475 torture messages (tests/fixtures/telephony/rfc4475) fed to the
//! endpoint: valid ones get their proper answer, invalid ones get 400 or
//! silence, none panics, and the endpoint still answers OPTIONS afterwards.

use std::path::PathBuf;
use std::time::Instant;

use ivr_telephony::config::Config;
use ivr_telephony::endpoint::{Endpoint, EndpointConfig, Input, Output};

fn fixtures(kind: &str) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/telephony/rfc4475").join(kind);
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap_or_default()))
        .collect();
    v.sort();
    v
}

fn status_codes(ep: &mut Endpoint) -> Vec<u16> {
    let mut codes = Vec::new();
    while let Some(o) = ep.poll_output() {
        match o {
            Output::Sip { bytes, .. } => {
                let text = String::from_utf8_lossy(&bytes);
                if let Some(code) = text.strip_prefix("SIP/2.0 ").and_then(|r| r.get(..3)).and_then(|c| c.parse().ok()) {
                    codes.push(code);
                }
            }
            // The shell's part: the RTP port is bound, the call may be answered.
            Output::OpenMedia { port } => ep.handle_input(Instant::now(), Input::MediaOpened { port }),
            _ => {}
        }
    }
    codes
}

fn endpoint() -> Endpoint {
    Endpoint::new(EndpointConfig::from_config(&Config::default(), 5060, None))
}

const PEER: &str = "192.0.2.1:5060";

#[test]
fn valid_torture_messages_get_their_answer() {
    let expected = [
        ("dblreq.sip", 405),  // REGISTER (the trailing INVITE is ignored)
        ("esc01.sip", 200),   // escaped URIs, PCMU offered
        ("intmeth.sip", 405), // unknown but well-formed method
        ("lwsdisp.sip", 200),
        ("semiuri.sip", 200),
        ("unkmeth.sip", 405),
        ("wsinv.sip", 481), // in-dialog INVITE (To tag) for no dialog of ours
    ];
    let files = fixtures("valid");
    assert_eq!(files.len(), expected.len());
    for (name, bytes) in files {
        let mut ep = endpoint();
        ep.handle_input(Instant::now(), Input::Sip { from: PEER.parse().unwrap(), bytes: &bytes });
        let codes = status_codes(&mut ep);
        let want = expected.iter().find(|(n, _)| *n == name).map(|x| x.1).unwrap_or_else(|| panic!("no expectation for {name}"));
        assert_eq!(codes.last(), Some(&want), "{name}: responses {codes:?}");
        assert!(!codes.contains(&400), "{name} rejected as malformed: {codes:?}");
    }
}

#[test]
fn invalid_torture_messages_get_400_or_nothing_and_never_a_call() {
    let files = fixtures("invalid");
    assert!(files.len() >= 10);
    let mut ep = endpoint();
    for (name, bytes) in &files {
        ep.handle_input(Instant::now(), Input::Sip { from: PEER.parse().unwrap(), bytes });
        let codes = status_codes(&mut ep);
        assert!(codes.iter().all(|c| *c == 400), "{name}: responses {codes:?}");
        assert_eq!(ep.active_calls(), 0, "{name} created a call");
    }
    // Still alive and answering.
    let opt = b"OPTIONS sip:3230@h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKok\r\nFrom: <sip:p@h>;tag=1\r\nTo: <sip:3230@h>\r\nCall-ID: ok\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
    ep.handle_input(Instant::now(), Input::Sip { from: PEER.parse().unwrap(), bytes: opt });
    assert_eq!(status_codes(&mut ep), vec![200]);
}

#[test]
fn every_truncation_of_a_valid_invite_is_survived() {
    let files = fixtures("valid");
    let mut ep = endpoint();
    for (_, bytes) in files {
        for cut in 0..bytes.len() {
            ep.handle_input(Instant::now(), Input::Sip { from: PEER.parse().unwrap(), bytes: &bytes[..cut] });
            while ep.poll_output().is_some() {}
        }
    }
}
