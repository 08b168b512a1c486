//! The 49 RFC 4475 torture messages (tests/fixtures/telephony/rfc4475, byte for
//! byte from the RFC's archive: `valid/` is §3.1.1, `invalid/` the rest) fed to a
//! fresh endpoint each, which plays a UAS (we are no proxy and no registrar).
//! Every message has one expected outcome below: the final status code we send,
//! or `Drop` when no response is possible (responses to no transaction of ours).
//! None may panic, and the endpoint still answers OPTIONS after all of them.

use std::path::PathBuf;
use std::time::Instant;

use ivr_telephony::config::Config;
use ivr_telephony::endpoint::{Endpoint, EndpointConfig, Input, Output};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// The last response sent has this code (an INVITE also gets 100 first).
    Answer(u16),
    /// Nothing is sent.
    Drop,
}
use Expect::*;

/// One line per message: (file, RFC 4475 section, expected outcome, why).
const TABLE: &[(&str, &str, Expect, &str)] = &[
    // §3.1.1 valid messages
    ("wsinv", "3.1.1.1", Answer(481), "well-formed; its To tag makes it in-dialog, and no such dialog exists"),
    ("intmeth", "3.1.1.2", Answer(405), "unknown method made of every token character"),
    ("esc01", "3.1.1.3", Answer(200), "escaped URIs; PCMU offered, call answered"),
    ("escnull", "3.1.1.4", Answer(405), "REGISTER with %00 in URIs: we are no registrar"),
    ("esc02", "3.1.1.5", Answer(405), "RE%47IST%45R is an unknown method, not REGISTER"),
    ("lwsdisp", "3.1.1.6", Answer(200), "OPTIONS, no LWS between display name and <"),
    ("longreq", "3.1.1.7", Answer(200), "INVITE with very long values; PCMU offered"),
    ("dblreq", "3.1.1.8", Answer(405), "REGISTER; the INVITE after Content-Length 0 is ignored"),
    ("semiuri", "3.1.1.9", Answer(200), "OPTIONS with ; inside the user part"),
    ("transports", "3.1.1.10", Answer(200), "OPTIONS, unknown transports in Via"),
    ("mpart01", "3.1.1.11", Answer(405), "MESSAGE (multipart/mixed) is not a method we serve"),
    ("unreason", "3.1.1.12", Drop, "a response matching no transaction of ours"),
    ("noreason", "3.1.1.13", Drop, "a response matching no transaction of ours"),
    // §3.1.2 invalid messages
    ("badinv01", "3.1.2.1", Answer(400), "extraneous separators in Via and Contact"),
    ("clerr", "3.1.2.2", Answer(400), "Content-Length larger than the datagram (UDP)"),
    ("ncl", "3.1.2.3", Answer(400), "negative Content-Length"),
    ("scalar02", "3.1.2.4", Answer(400), "CSeq number over 2**32-1"),
    ("scalarlg", "3.1.2.5", Drop, "a response with overlarge scalars"),
    ("quotbal", "3.1.2.6", Answer(400), "unterminated quoted display name"),
    ("ltgtruri", "3.1.2.7", Answer(400), "Request-URI enclosed in <>"),
    ("lwsruri", "3.1.2.8", Answer(400), "LWS inside the Request-URI"),
    ("lwsstart", "3.1.2.9", Answer(400), "several SP between request-line elements"),
    ("trws", "3.1.2.10", Answer(400), "SP after SIP/2.0 in the request line"),
    ("escruri", "3.1.2.11", Answer(400), "escaped headers in the Request-URI"),
    ("baddate", "3.1.2.12", Answer(200), "Date in EST: we never read Date, so the RFC lets us accept"),
    ("regbadct", "3.1.2.13", Answer(405), "REGISTER: refused for its method before its Contact matters"),
    ("badaspec", "3.1.2.14", Answer(200), "spaces inside <> of To: the RFC allows ignoring them, and a UAS never routes on To"),
    ("baddn", "3.1.2.15", Answer(400), "unquoted non-token display names (rsip drops the headers after them; the line parser addresses the 400)"),
    ("badvers", "3.1.2.16", Answer(505), "SIP/7.0"),
    ("mismatch01", "3.1.2.17", Answer(400), "OPTIONS with CSeq method INVITE"),
    ("mismatch02", "3.1.2.18", Answer(400), "unknown method with a different CSeq method: the RFC accepts 400 as well as 501"),
    ("bigcode", "3.1.2.19", Drop, "a response with status code 4294967301"),
    // §3.2 transaction layer
    ("badbranch", "3.2.1", Answer(200), "branch is the bare magic cookie: RFC 2543 matching fallback, OPTIONS answered"),
    // §3.3 application layer
    ("insuf", "3.3.1", Drop, "no From, To, Call-ID: a response could not be matched by the UAC; we answer only requests with Via and From"),
    ("unkscm", "3.3.2", Answer(416), "Request-URI in an unknown scheme"),
    ("novelsc", "3.3.3", Answer(416), "soap.beep: Request-URI scheme we cannot serve"),
    ("unksm2", "3.3.4", Answer(405), "REGISTER: we are no registrar"),
    ("bext01", "3.3.5", Answer(420), "Require: nothingSupportedHere"),
    ("invut", "3.3.6", Answer(415), "INVITE whose body is application/unknownformat"),
    ("regaut01", "3.3.7", Answer(405), "REGISTER: we are no registrar"),
    ("multi01", "3.3.8", Answer(400), "several To, From, Call-ID and CSeq headers"),
    ("mcl01", "3.3.9", Answer(400), "two Content-Length headers"),
    ("bcast", "3.3.10", Drop, "a response (broadcast Via) to no request of ours"),
    ("zeromf", "3.3.11", Answer(200), "Max-Forwards 0 matters only to a forwarding element; a UAS answers"),
    ("cparam01", "3.3.12", Answer(405), "REGISTER: we are no registrar"),
    ("cparam02", "3.3.13", Answer(405), "REGISTER: we are no registrar"),
    ("regescrt", "3.3.14", Answer(405), "REGISTER: we are no registrar"),
    ("sdp01", "3.3.15", Answer(406), "Accept has no type our answer could be sent in"),
    // §3.4 backward compatibility
    ("inv2543", "3.4.1", Answer(400), "RFC 2543 INVITE: matched by the 2543 rules, but without Contact or From tag no dialog can reach the caller"),
];

fn fixtures() -> Vec<(String, Vec<u8>)> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/telephony/rfc4475");
    let mut v = Vec::new();
    for kind in ["valid", "invalid"] {
        let dir = root.join(kind);
        for e in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())).flatten() {
            let name = e.file_name().to_string_lossy().trim_end_matches(".dat").to_string();
            v.push((name, std::fs::read(e.path()).unwrap_or_default()));
        }
    }
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

fn outcome(codes: &[u16]) -> Expect {
    match codes.last() {
        Some(c) => Answer(*c),
        None => Drop,
    }
}

#[test]
fn every_rfc4475_message_gets_its_expected_outcome() {
    let files = fixtures();
    assert_eq!(files.len(), 49, "RFC 4475 has 49 messages");
    assert_eq!(TABLE.len(), 49);
    let mut wrong = Vec::new();
    for (name, bytes) in &files {
        let Some(&(_, section, want, why)) = TABLE.iter().find(|t| t.0 == name) else {
            panic!("no expectation for {name}");
        };
        let mut ep = endpoint();
        ep.handle_input(Instant::now(), Input::Sip { from: PEER.parse().unwrap(), bytes });
        let codes = status_codes(&mut ep);
        let got = outcome(&codes);
        if got != want {
            wrong.push(format!("{name} (§{section}, {why}): want {want:?}, got {codes:?}"));
        }
        // A final answer is only ever one response (plus 100 Trying for an INVITE).
        assert!(codes.iter().filter(|c| **c >= 200).count() <= 1, "{name}: {codes:?}");
        if want != Answer(200) && ep.active_calls() != 0 {
            wrong.push(format!("{name} (§{section}): created a call"));
        }
    }
    assert!(wrong.is_empty(), "{} of 49 messages not handled as expected:\n{}", wrong.len(), wrong.join("\n"));
}

#[test]
fn one_endpoint_survives_all_of_them_and_still_answers() {
    let mut ep = endpoint();
    for (_, bytes) in fixtures() {
        ep.handle_input(Instant::now(), Input::Sip { from: PEER.parse().unwrap(), bytes: &bytes });
        status_codes(&mut ep);
    }
    let opt = b"OPTIONS sip:3230@h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKok\r\nFrom: <sip:p@h>;tag=1\r\nTo: <sip:3230@h>\r\nCall-ID: ok\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
    ep.handle_input(Instant::now(), Input::Sip { from: PEER.parse().unwrap(), bytes: opt });
    assert_eq!(status_codes(&mut ep), vec![200]);
}

#[test]
fn non_rfc_malformed_datagrams_get_400_or_nothing() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/telephony/malformed");
    let mut ep = endpoint();
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())).flatten() {
        let bytes = std::fs::read(e.path()).unwrap_or_default();
        ep.handle_input(Instant::now(), Input::Sip { from: PEER.parse().unwrap(), bytes: &bytes });
        let codes = status_codes(&mut ep);
        let name = e.file_name();
        assert!(codes.iter().all(|c| *c == 400 || *c == 405), "{name:?}: {codes:?}");
        assert_eq!(ep.active_calls(), 0);
        n += 1;
    }
    assert_eq!(n, 3);
}

#[test]
fn every_truncation_of_every_torture_message_is_survived() {
    let mut ep = endpoint();
    for (_, bytes) in fixtures() {
        for cut in 0..bytes.len() {
            ep.handle_input(Instant::now(), Input::Sip { from: PEER.parse().unwrap(), bytes: &bytes[..cut] });
            while ep.poll_output().is_some() {}
        }
    }
}
