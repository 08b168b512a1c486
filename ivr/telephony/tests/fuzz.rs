//! Property tests on stable Rust: arbitrary and mutated input into every decoder
//! of the crate (SIP parser and endpoint, SDP, RTP through the stream, RTCP
//! detection, RFC 4733 events, the jitter buffer). None may panic; what each
//! returns is checked against the rule it must follow. Case counts are fixed so
//! the file runs in a few seconds in release.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ivr_telephony::config::Config;
use ivr_telephony::endpoint::{Endpoint, EndpointConfig, Input, Output};
use ivr_telephony::rtp::dtmf::{event_to_digit, DtmfReceiver};
use ivr_telephony::rtp::jitter::{JitterBuffer, MAX_BYTES, MAX_PACKETS};
use ivr_telephony::rtp::rtcp;
use ivr_telephony::rtp::stream::RtpStream;
use ivr_telephony::sdp::{self, Codec, Direction, Negotiated};
use ivr_telephony::sip::message::{self, Headers, Message};
use proptest::prelude::*;

const PEER: &str = "192.0.2.1:5060";

const OPTIONS: &str = "OPTIONS sip:3230@192.0.2.9 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKfz1\r\nMax-Forwards: 70\r\nFrom: <sip:caller@192.0.2.1>;tag=f1\r\nTo: <sip:3230@192.0.2.9>\r\nCall-ID: fuzz-1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";

const OFFER: &str = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 8 0 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=ptime:20\r\na=sendrecv\r\n";

fn invite() -> String {
    format!(
        "INVITE sip:3230@192.0.2.9 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKfz2\r\nMax-Forwards: 70\r\nFrom: \"A\" <sip:caller@192.0.2.1>;tag=f2\r\nTo: <sip:3230@192.0.2.9>\r\nCall-ID: fuzz-2\r\nCSeq: 1 INVITE\r\nContact: <sip:caller@192.0.2.1:5060>\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{OFFER}",
        OFFER.len()
    )
}

fn seeds() -> Vec<Vec<u8>> {
    let bye = "BYE sip:ivr@192.0.2.9 SIP/2.0\r\nv: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKfz3\r\nf: <sip:caller@192.0.2.1>;tag=f2\r\nt: <sip:3230@192.0.2.9>;tag=x\r\ni: fuzz-2\r\nCSeq: 2 BYE\r\nl: 0\r\n\r\n";
    let resp = "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.9;branch=z9hG4bKfz4\r\nFrom: <sip:ivr@192.0.2.9>;tag=a\r\nTo: <sip:c@192.0.2.1>;tag=b\r\nCall-ID: fuzz-3\r\nCSeq: 1 BYE\r\nContent-Length: 0\r\n\r\n";
    vec![OPTIONS.into(), invite().into_bytes(), bye.into(), resp.into()]
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Truncate(usize),
    Insert(usize, u8),
    DuplicateLine(usize),
    HugeContentLength(u64),
    Delete(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), prop::sample::select(vec![b'\r', b'\n', 0u8, b' ', b':', b';', b',', b'"', b'<', b'>', 0xff]))
            .prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<usize>().prop_map(Mutation::DuplicateLine),
        prop_oneof![Just(u64::MAX), Just(u32::MAX as u64 + 1), Just(1 << 40), 0..100_000u64].prop_map(Mutation::HugeContentLength),
        (any::<usize>(), 1..64usize).prop_map(|(i, n)| Mutation::Delete(i, n)),
    ]
}

fn mutate(mut b: Vec<u8>, muts: &[Mutation]) -> Vec<u8> {
    for m in muts {
        let n = b.len().max(1);
        match *m {
            Mutation::Flip(i, x) => {
                if !b.is_empty() {
                    b[i % n] ^= x | 1;
                }
            }
            Mutation::Truncate(i) => b.truncate(i % n),
            Mutation::Insert(i, x) => b.insert(i % (b.len() + 1), x),
            Mutation::DuplicateLine(i) => {
                let lines: Vec<&[u8]> = b.split(|c| *c == b'\n').collect();
                let k = 1 + i % lines.len().max(2).saturating_sub(1);
                if let Some(line) = lines.get(k) {
                    let mut dup = line.to_vec();
                    dup.push(b'\n');
                    let at: usize = lines[..k].iter().map(|l| l.len() + 1).sum();
                    let at = at.min(b.len());
                    b.splice(at..at, dup);
                }
            }
            Mutation::HugeContentLength(v) => {
                let text = String::from_utf8_lossy(&b).into_owned();
                if let Some(start) = text.find("Content-Length: ") {
                    let s = start + "Content-Length: ".len();
                    let e = text[s..].find('\r').map_or(text.len(), |e| s + e);
                    b = format!("{}{v}{}", &text[..s], &text[e..]).into_bytes();
                }
            }
            Mutation::Delete(i, len) => {
                let s = i % n;
                let e = (s + len).min(b.len());
                if s < e {
                    b.drain(s..e);
                }
            }
        }
    }
    b
}

fn endpoint() -> Endpoint {
    Endpoint::new(EndpointConfig::from_config(&Config::default(), 5060, None))
}

/// Feeds one datagram to a fresh endpoint; returns the status codes sent.
fn through_endpoint(bytes: &[u8]) -> Vec<u16> {
    let mut ep = endpoint();
    let now = Instant::now();
    let from: SocketAddr = PEER.parse().unwrap();
    ep.handle_input(now, Input::Sip { from, bytes });
    let mut codes = Vec::new();
    while let Some(o) = ep.poll_output() {
        match o {
            Output::Sip { bytes, .. } => {
                let text = String::from_utf8_lossy(&bytes);
                let code = text.strip_prefix("SIP/2.0 ").and_then(|r| r.get(..3)).and_then(|c| c.parse().ok());
                codes.push(code.unwrap_or(0));
            }
            Output::OpenMedia { port } => ep.handle_input(now, Input::MediaOpened { port }),
            _ => {}
        }
    }
    // Time passes: timers of whatever was created must not panic either.
    for _ in 0..5 {
        ep.handle_input(now + Duration::from_secs(40), Input::Tick);
        while ep.poll_output().is_some() {}
    }
    codes
}

/// The rule for what the endpoint may send for a datagram, from what the parser saw.
fn check_answers(bytes: &[u8], codes: &[u16]) -> Result<(), TestCaseError> {
    prop_assert!(!codes.contains(&0), "a non-response was sent for a single datagram: {codes:?}");
    match message::parse(bytes) {
        Ok(Message::Response(_)) => prop_assert!(codes.is_empty(), "answered a response: {codes:?}"),
        Ok(Message::Request(r)) => {
            if r.method == "ACK" {
                prop_assert!(codes.is_empty(), "answered an ACK: {codes:?}");
            } else {
                prop_assert!(r.top_via().is_some() && r.header("From").is_some());
                prop_assert!(codes.iter().filter(|c| **c >= 200).count() == 1, "a request got no final answer, or several: {codes:?}");
            }
        }
        Err(e) => match e.partial {
            Some(p) if p.method != "ACK" && p.top_via().is_some() && p.header("From").is_some() => {
                prop_assert_eq!(codes, &[e.status][..], "malformed request: {}", e.reason);
                prop_assert!(e.status == 400 || e.status == 505);
            }
            _ => prop_assert!(codes.is_empty(), "answered an unaddressable datagram: {codes:?}"),
        },
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn sip_parser_survives_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..1500)) {
        let _ = message::parse(&bytes);
    }

    #[test]
    fn sip_parser_survives_arbitrary_text_shaped_like_sip(
        start in prop::sample::select(vec!["INVITE sip:3230@h SIP/2.0", "OPTIONS sip:x@h SIP/2.0", "SIP/2.0 200 OK", "ACK sip:h SIP/2.0", "X y z"]),
        lines in prop::collection::vec("[A-Za-z-]{0,12}[ \t]*:[ -~\t]{0,60}", 0..20),
        body in "[ -~\r\n]{0,200}",
    ) {
        let text = format!("{start}\r\n{}\r\n\r\n{body}", lines.join("\r\n"));
        let codes = through_endpoint(text.as_bytes());
        check_answers(text.as_bytes(), &codes)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 8000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn mutated_messages_through_the_endpoint_follow_the_answer_rules(
        seed in 0..4usize,
        muts in prop::collection::vec(mutation(), 1..6),
    ) {
        let bytes = mutate(seeds()[seed].clone(), &muts);
        let codes = through_endpoint(&bytes);
        check_answers(&bytes, &codes)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

    /// parse → write a request → parse gives the same method, URI, header values and body.
    #[test]
    fn request_writer_round_trips(
        method in prop::sample::select(vec!["BYE", "INFO", "REFER", "NOTIFY", "OPTIONS", "UPDATE"]),
        user in "[a-z0-9]{1,12}",
        tag in "[a-zA-Z0-9]{1,16}",
        branch in "[a-zA-Z0-9]{1,16}",
        call_id in "[a-zA-Z0-9.@-]{1,40}",
        cseq in 1..u32::MAX,
        extra in prop::collection::vec(("X-[A-Za-z]{1,10}", "[!-~][ -~]{0,40}[!-~]"), 0..4),
        body in prop::option::of("[ -~]{1,100}"),
    ) {
        let uri = format!("sip:{user}@192.0.2.9:5060");
        let mut headers: Vec<(&str, String)> = vec![
            ("Via", format!("SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK{branch}")),
            ("Max-Forwards", "70".into()),
            ("From", format!("<sip:ivr@192.0.2.1>;tag={tag}")),
            ("To", format!("<{uri}>")),
            ("Call-ID", call_id.clone()),
            ("CSeq", format!("{cseq} {method}")),
        ];
        for (n, v) in &extra {
            headers.push((n.as_str(), v.clone()));
        }
        let bytes = message::request(method, &uri, &headers, body.as_ref().map(|b| ("text/plain", b.as_bytes())));
        let parsed = message::parse(&bytes);
        let Ok(Message::Request(r)) = parsed else { return Err(TestCaseError::fail(format!("{parsed:?}"))) };
        prop_assert_eq!(&r.method, method);
        prop_assert_eq!(&r.uri, &uri);
        prop_assert_eq!(r.call_id(), Some(call_id.as_str()));
        prop_assert_eq!(r.cseq(), Some((cseq, method.to_string())));
        prop_assert_eq!(r.from_tag(), Some(tag.as_str()));
        prop_assert_eq!(r.branch().map(str::to_string), Some(format!("z9hG4bK{branch}")));
        for (n, v) in &extra {
            prop_assert!(r.headers_named(n).any(|x| x == v.as_str()), "{n}: {v} lost in {:?}", r.headers);
        }
        prop_assert_eq!(r.body.clone(), body.clone().unwrap_or_default().into_bytes());
        // And a response written for it parses back with the same identifiers.
        let resp = message::response(&r, 486, "Busy Here", Some("t1"), &[], None);
        let Ok(Message::Response(p)) = message::parse(&resp) else { return Err(TestCaseError::fail("response not parsed")) };
        prop_assert_eq!(p.code, 486);
        prop_assert_eq!(p.call_id(), r.call_id());
        prop_assert_eq!(p.cseq(), r.cseq());
        prop_assert_eq!(p.branch(), r.branch());
        prop_assert_eq!(p.to_tag(), Some("t1"));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn sdp_parser_survives_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        if let Ok(m) = sdp::parse_remote(&bytes) {
            let _ = sdp::negotiate(&m, &[Codec::Pcma, Codec::Pcmu]);
        }
    }

    /// A mutated offer gives an answer or an error; an answer we write for it is
    /// SDP our own parser reads back with the same codec.
    #[test]
    fn mutated_offers_give_an_answer_or_an_error(muts in prop::collection::vec(mutation(), 0..5)) {
        let bytes = mutate(OFFER.as_bytes().to_vec(), &muts);
        let Ok(offer) = sdp::parse_remote(&bytes) else { return Ok(()) };
        let Ok(n) = sdp::negotiate(&offer, &[Codec::Pcma, Codec::Pcmu]) else { return Ok(()) };
        prop_assert!(offer.codecs.contains(&(n.pt, n.codec)));
        let answer = sdp::write("192.0.2.9".parse().unwrap(), 20000, 1, &[(n.pt, n.codec)], n.telephone_event, n.direction);
        let back = sdp::parse_remote(answer.as_bytes());
        let Ok(back) = back else { return Err(TestCaseError::fail(format!("our answer unreadable: {back:?}\n{answer}"))) };
        prop_assert_eq!(back.codecs.first().copied(), Some((n.pt, n.codec)));
        prop_assert_eq!(back.telephone_event, n.telephone_event);
    }

    /// SDP lines in any order and number: never a panic.
    #[test]
    fn sdp_lines_in_any_order(lines in prop::collection::vec(prop::sample::select(OFFER.split("\r\n").filter(|l| !l.is_empty()).map(str::to_string).collect::<Vec<_>>()), 0..20)) {
        let _ = sdp::parse_remote(lines.join("\r\n").as_bytes());
    }
}

fn rtp(pt: u8, seq: u16, ts: u32, ssrc: u32, marker: bool, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, pt | if marker { 0x80 } else { 0 }];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ts.to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

#[derive(Debug, Clone)]
enum Datagram {
    Raw(Vec<u8>),
    Rtp { pt: u8, seq_step: i32, ts_step: i64, marker: bool, len: usize },
}

fn datagram() -> impl Strategy<Value = Datagram> {
    prop_oneof![
        1 => prop::collection::vec(any::<u8>(), 0..200).prop_map(Datagram::Raw),
        4 => (prop::sample::select(vec![8u8, 0, 101, 13, 127]), -3000..3000i32, -100_000..100_000i64, any::<bool>(), 0..1200usize)
            .prop_map(|(pt, seq_step, ts_step, marker, len)| Datagram::Rtp { pt, seq_step, ts_step, marker, len }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1500, failure_persistence: None, ..ProptestConfig::default() })]

    /// Any datagrams into a call's RTP stream, with any sequence/timestamp jumps:
    /// no panic, and the jitter buffer stays within its hard caps.
    #[test]
    fn rtp_stream_survives_any_datagrams_and_the_jitter_buffer_stays_capped(
        dgrams in prop::collection::vec(datagram(), 1..300),
        pull_every in 1..8usize,
    ) {
        let t0 = Instant::now();
        let remote: SocketAddr = "192.0.2.1:4000".parse().unwrap();
        let mut s = RtpStream::new(20000, t0, 7, 9);
        s.set_negotiated(Negotiated { codec: Codec::Pcma, pt: 8, telephone_event: Some(101), remote: Some(remote), direction: Direction::SendRecv });
        let (mut seq, mut ts) = (1000u16, 5000u32);
        for (i, d) in dgrams.iter().enumerate() {
            let now = t0 + Duration::from_millis(5 * i as u64);
            let bytes = match d {
                Datagram::Raw(b) => b.clone(),
                Datagram::Rtp { pt, seq_step, ts_step, marker, len } => {
                    seq = seq.wrapping_add(*seq_step as u16);
                    ts = ts.wrapping_add(*ts_step as u32);
                    rtp(*pt, seq, ts, 0x1234, *marker, &vec![0xd5; *len])
                }
            };
            let _ = s.on_datagram(now, remote, &bytes);
            let (packets, held_bytes) = s.jitter.held();
            prop_assert!(packets <= MAX_PACKETS && held_bytes <= MAX_BYTES, "{packets} packets, {held_bytes} bytes");
            if i % pull_every == 0 {
                if let Some(frame) = s.pull_audio() {
                    prop_assert!(frame.len() <= 960 * 2);
                }
            }
            let mut out = Vec::new();
            s.tick(now, &mut out);
        }
    }

    /// The jitter buffer alone, fed any (seq, timestamp, payload) sequence.
    #[test]
    fn jitter_buffer_stays_within_its_caps(
        pkts in prop::collection::vec((any::<u16>(), any::<u32>(), 0..2000usize, 0..4u8), 1..400),
    ) {
        let t0 = Instant::now();
        let mut jb = JitterBuffer::new();
        for (i, (seq, ts, len, pops)) in pkts.into_iter().enumerate() {
            jb.push(t0 + Duration::from_millis(3 * i as u64), seq, ts, vec![0x55; len]);
            let (p, b) = jb.held();
            prop_assert!(p <= MAX_PACKETS && b <= MAX_BYTES, "{p} packets, {b} bytes");
            for _ in 0..pops {
                let _ = jb.pop();
            }
        }
    }

    /// RFC 4733: a digit only for events 0-15 and only once per event timestamp.
    #[test]
    fn dtmf_events_decode_once_per_timestamp(events in prop::collection::vec((0..4u32, prop::collection::vec(any::<u8>(), 0..8)), 1..100)) {
        let mut rx = DtmfReceiver::new();
        let mut reported = std::collections::HashSet::new();
        let mut last_ts = None;
        for (ts, payload) in events {
            let got = rx.on_packet(ts, &payload);
            if let Some(d) = got {
                prop_assert!(payload.len() >= 4);
                prop_assert_eq!(Some(d), event_to_digit(payload[0]));
                prop_assert!(payload[0] <= 15);
                prop_assert!(last_ts != Some(ts), "reported twice for timestamp {ts}");
            }
            if payload.len() >= 4 {
                if last_ts != Some(ts) {
                    reported.clear();
                }
                last_ts = Some(ts);
            }
            let _ = reported.insert(ts);
        }
    }

    /// RTCP detection on any datagram; what we write is detected as RTCP and its
    /// length field counts its 32-bit words.
    #[test]
    fn rtcp_detection_and_sender_reports(bytes in prop::collection::vec(any::<u8>(), 0..100), ssrc in any::<u32>(), ntp in any::<(u32, u32)>(), ts in any::<u32>(), n in any::<u32>(), o in any::<u32>()) {
        if rtcp::is_rtcp(&bytes) {
            prop_assert!(bytes.len() >= 8 && (200..=204).contains(&bytes[1]));
        }
        for rx in [None, Some(rtcp::Reception { remote_ssrc: ssrc ^ 1, ..Default::default() })] {
            let sr = rtcp::sender_report(ssrc, ntp, ts, n, o, rx);
            prop_assert!(rtcp::is_rtcp(&sr));
            prop_assert_eq!((u16::from_be_bytes([sr[2], sr[3]]) as usize + 1) * 4, sr.len());
        }
    }
}

/// G.711 both laws, every 16-bit sample: decode(encode(x)) is within the law's
/// quantisation error (under 1/16 of the magnitude plus the smallest step), and
/// every code byte but μ-law's negative zero survives decode then encode.
#[test]
fn g711_round_trip_within_the_quantisation_bound_for_every_sample() {
    use ivr_telephony::rtp::g711::{alaw_to_linear, linear_to_alaw, linear_to_ulaw, ulaw_to_linear};
    for x in i16::MIN..=i16::MAX {
        for (law, y) in [("mu", ulaw_to_linear(linear_to_ulaw(x))), ("A", alaw_to_linear(linear_to_alaw(x)))] {
            let err = (x as i32 - y as i32).abs();
            let bound = (x as i32).abs() / 16 + 16;
            assert!(err <= bound, "{law}-law: {x} -> {y} (error {err} > {bound})");
            assert!(x == 0 || y == 0 || (x > 0) == (y > 0), "{law}-law: sign of {x} lost: {y}");
        }
    }
    for b in 0..=255u8 {
        assert_eq!(linear_to_alaw(alaw_to_linear(b)), b, "A-law code {b:#x}");
        if b != 0x7f {
            assert_eq!(linear_to_ulaw(ulaw_to_linear(b)), b, "mu-law code {b:#x}");
        }
    }
}

/// The mutations are not vacuous: over a fixed run they produce well-formed
/// requests that are answered, malformed ones answered 400, and silent drops.
#[test]
fn mutations_reach_every_outcome() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strat = (0..4usize, prop::collection::vec(mutation(), 1..4));
    let (mut answered, mut bad, mut dropped) = (0, 0, 0);
    for _ in 0..2000 {
        let (seed, muts) = strat.new_tree(&mut runner).expect("tree").current();
        let bytes = mutate(seeds()[seed].clone(), &muts);
        match through_endpoint(&bytes).last() {
            Some(400) => bad += 1,
            Some(_) => answered += 1,
            None => dropped += 1,
        }
    }
    println!("answered {answered}, 400 {bad}, dropped {dropped}");
    assert!(answered > 100 && bad > 100 && dropped > 100, "answered {answered}, 400 {bad}, dropped {dropped}");
}
