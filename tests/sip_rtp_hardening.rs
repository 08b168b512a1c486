//! The media path under hostile or unlucky conditions, end to end over loopback
//! against `ivr serve --app script` (greeting, key collection, play-back; key 0
//! transfers): forged RTP from another socket, an RTP flood inside the sequence
//! window, RTP ports held by another process. Every wait is bounded and waits
//! for an event (a SIP request, a packet, a log line), never a fixed delay.

mod sip_common;

use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use sip_common::uac::{dtmf_packet, rtp_packet, Msg, Uac, PCMU_SILENCE};
use sip_common::Server;

const TRANSFER: &str = "[transfer]\n2 = \"sip:agents-choix2@127.0.0.1:5999\"";
const WAIT: Duration = Duration::from_secs(30);
const SSRC: u32 = 0x5EED_0001;

/// The caller's own stream: 20 ms of PCMU silence every 20 ms from its media socket.
struct Pump {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<(u16, u32)>,
}

impl Pump {
    fn start(uac: &Uac, seq: u16, ts: u32) -> Pump {
        let stop = Arc::new(AtomicBool::new(false));
        let sock = uac.rtp.try_clone().expect("clone RTP socket");
        let to = uac.remote_rtp.expect("server RTP address");
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let (mut seq, mut ts) = (seq, ts);
            let mut next = Instant::now();
            while !flag.load(Ordering::SeqCst) {
                let _ = sock.send_to(&rtp_packet(0, false, seq, ts, SSRC, &[PCMU_SILENCE; 160]), to);
                seq = seq.wrapping_add(1);
                ts = ts.wrapping_add(160);
                next += Duration::from_millis(20);
                std::thread::sleep(next.saturating_duration_since(Instant::now()));
            }
            (seq, ts)
        });
        Pump { stop, thread }
    }

    /// Stops it; returns the next sequence number and timestamp of the stream.
    fn stop(self) -> (u16, u32) {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.join().expect("pump thread")
    }
}

/// A key press as RFC 4733 sends it: updates then three end packets, one timestamp.
fn key(sock: &UdpSocket, to: std::net::SocketAddr, seq: u16, ts: u32, ssrc: u32, event: u8) {
    for (i, (end, dur)) in [(false, 160u16), (false, 320), (true, 800), (true, 800), (true, 800)].into_iter().enumerate() {
        let _ = sock.send_to(&dtmf_packet(seq.wrapping_add(i as u16), ts, ssrc, event, end, dur), to);
    }
}

/// Places a call, sends the first packet of the caller's stream and waits for the
/// bot's first audio packet: media flows both ways and the source is locked.
fn connected_call(server: &Server) -> Uac {
    let mut uac = Uac::new(server.port);
    assert_eq!(uac.call(WAIT), Some(200), "call not answered\n{}", server.log_text());
    assert!(uac.remote_rtp.is_some(), "no SDP in the 200");
    uac.send_rtp(&rtp_packet(0, true, 0, 0, SSRC, &[PCMU_SILENCE; 160]));
    assert!(uac.recv_rtp(WAIT).is_some(), "no RTP from the bot\n{}", server.log_text());
    uac
}

/// Waits for the server's BYE (answering it) or a REFER; returns the REFERs seen.
fn until_bye(uac: &Uac, refer_code: u16) -> (Vec<Msg>, bool) {
    let end = Instant::now() + WAIT;
    let mut refers = Vec::new();
    while let Some(m) = uac.recv_sip(end.saturating_duration_since(Instant::now())) {
        match m.method() {
            Some("BYE") => {
                uac.respond(&m, 200, "OK");
                return (refers, true);
            }
            Some("REFER") => {
                uac.respond(&m, refer_code, "Decline");
                refers.push(m);
            }
            Some(_) => uac.respond(&m, 200, "OK"),
            None => {}
        }
    }
    (refers, false)
}

/// `name=<number>` in the server's "call ended" line.
fn ended_field(server: &Server, name: &str) -> Option<u64> {
    assert!(server.wait_log("call ended", WAIT), "no end of call in the log\n{}", server.log_text());
    let log = server.log_text();
    let line = log.lines().find(|l| l.contains("call ended"))?;
    line.split_whitespace().find_map(|w| w.strip_prefix(&format!("{name}="))).and_then(|v| v.parse().ok())
}

/// µ-law bytes of the loudest segment (|sample| ≥ ~16,000): the forged audio is all
/// such bytes, the greeting tone (amplitude 6,000) and silence have none.
fn loud(payload: &[u8]) -> bool {
    payload.iter().any(|b| b & 0x70 == 0)
}

#[test]
fn forged_rtp_and_a_forged_key_0_from_another_socket_are_ignored() {
    let server = Server::start(TRANSFER);
    let uac = connected_call(&server);
    let to = uac.remote_rtp.expect("server RTP");
    let pump = Pump::start(&uac, 1, 160);
    // The forger knows the call's media port and even its SSRC; it sends loud audio all
    // along (the bot records what it hears after the greeting and plays it back) and
    // presses 0 (which transfers the call) every 100 ms.
    let stop = Arc::new(AtomicBool::new(false));
    let forger = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let sock = UdpSocket::bind("127.0.0.1:0").expect("bind forger");
            let mut sent = 0u64;
            let mut i: u32 = 0;
            while !stop.load(Ordering::SeqCst) {
                let seq = 30_000u16.wrapping_add(i as u16 * 8);
                let _ = sock.send_to(&rtp_packet(0, false, seq, i * 160, SSRC, &[0x00; 160]), to);
                sent += 1;
                if i.is_multiple_of(5) {
                    key(&sock, to, seq.wrapping_add(1), 1_000_000 + i * 160, SSRC, 0);
                    sent += 5;
                }
                i += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
            sent
        })
    };
    let received = {
        let sock = uac.rtp.try_clone().expect("clone");
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut got = Vec::new();
            let mut buf = [0u8; 2048];
            let _ = sock.set_read_timeout(Some(Duration::from_millis(200)));
            while !stop.load(Ordering::SeqCst) {
                if let Ok((n, _)) = sock.recv_from(&mut buf) {
                    if n > 12 && buf[1] & 0x7f == 0 {
                        got.push(buf[12..n].to_vec());
                    }
                }
            }
            got
        })
    };
    // Greeting, 3 s of collection, play-back of what was heard, BYE.
    let (refers, bye) = until_bye(&uac, 603);
    stop.store(true, Ordering::SeqCst);
    pump.stop();
    let forged = forger.join().expect("forger");
    let bot_audio = received.join().expect("receiver");
    let log = server.log_text();
    assert!(bye, "the bot did not end the call\n{log}");
    assert!(refers.is_empty(), "a forged key 0 transferred the call\n{log}");
    assert!(!log.contains("transfer: REFER"), "{log}");
    assert!(bot_audio.len() > 100, "bot audio: {} packets", bot_audio.len());
    let injected = bot_audio.iter().filter(|p| loud(p)).count();
    assert_eq!(injected, 0, "forged audio was played back to the caller ({injected} packets)");
    let rejected = ended_field(&server, "rtp_foreign_source").expect("rtp_foreign_source in the end-of-call line");
    assert!(rejected > 0 && rejected <= forged, "rejected {rejected}, forged {forged}");
    eprintln!("forged datagrams sent {forged}, dropped by the source lock {rejected}, bot packets {}", bot_audio.len());
}

#[test]
fn a_key_0_from_the_call_s_own_source_still_transfers() {
    let server = Server::start(TRANSFER);
    let uac = connected_call(&server);
    let pump = Pump::start(&uac, 1, 160);
    key(&uac.rtp, uac.remote_rtp.expect("server RTP"), 40_000, 2_000_000, SSRC, 0);
    let (refers, bye) = until_bye(&uac, 603);
    pump.stop();
    assert_eq!(refers.len(), 1, "{}", server.log_text());
    assert!(bye, "{}", server.log_text());
    assert!(server.wait_log("outcome=Refused(603)", WAIT), "{}", server.log_text());
}

/// The stated bound: the server's peak resident memory may grow by at most this much
/// while one call takes a 50,000-packet flood (45 MB of payload). Two caps hold it: the
/// shell passes at most 2,000 datagrams/s per call into the queue shared by every call
/// (8,192 datagrams), and the jitter buffer holds at most 80 packets / 32 KiB. Without
/// them the flood would be held (tens of MB).
const FLOOD_RSS_BOUND_KIB: u64 = 16 * 1024;

#[test]
fn a_flood_of_50000_packets_in_the_window_keeps_memory_bounded_and_the_call_working() {
    let server = Server::start(TRANSFER);
    let uac = connected_call(&server);
    let to = uac.remote_rtp.expect("server RTP");
    let (rss0, _) = server.rss_kib();
    // Every packet new and in sequence (from the locked source, so it reaches the jitter
    // buffer), 900 bytes each, ~50x faster than real time; paced in bursts so that the
    // loopback socket buffer does not simply drop it.
    let (mut seq, mut ts) = (1u16, 160u32);
    let payload = [PCMU_SILENCE; 900];
    let started = Instant::now();
    for i in 0..50_000u32 {
        let _ = uac.rtp.send_to(&rtp_packet(0, false, seq, ts, SSRC, &payload), to);
        seq = seq.wrapping_add(1);
        ts = ts.wrapping_add(160);
        if i % 200 == 199 {
            std::thread::sleep(Duration::from_millis(4));
        }
    }
    let flood_s = started.elapsed().as_secs_f64();
    // The call goes on: the caller's normal stream, then a key 0 that must transfer it. The
    // shell's rate cap may still be dropping this second's excess: the caller presses 0
    // again every 250 ms until the REFER comes (bounded by WAIT).
    let pump = Pump::start(&uac, seq, ts);
    let mut refers = Vec::new();
    let end = Instant::now() + WAIT;
    let mut press = 0u32;
    while refers.is_empty() && Instant::now() < end {
        key(&uac.rtp, to, seq.wrapping_add(20_000 + press as u16 * 8), ts.wrapping_add(1_000_000 + press * 1600), SSRC, 0);
        press += 1;
        let until = Instant::now() + Duration::from_millis(250);
        while let Some(m) = uac.recv_sip(until.saturating_duration_since(Instant::now())) {
            match m.method() {
                Some("REFER") => {
                    uac.respond(&m, 603, "Decline");
                    refers.push(m);
                }
                Some(_) => uac.respond(&m, 200, "OK"),
                None => {}
            }
        }
    }
    let (more, bye) = until_bye(&uac, 603);
    refers.extend(more);
    pump.stop();
    let (rss1, hwm) = server.rss_kib();
    let log = server.log_text();
    assert!(!refers.is_empty(), "the call no longer reacts after the flood\n{log}");
    assert!(bye, "{log}");
    let overflow = ended_field(&server, "rtp_overflow").expect("rtp_overflow in the end-of-call line");
    eprintln!(
        "flood: 50,000 x 900 B in {flood_s:.2} s; dropped at the jitter cap {overflow}; key presses until the REFER {press}; RSS before {rss0} KiB, after {rss1} KiB, peak {hwm} KiB (growth {} KiB, bound {FLOOD_RSS_BOUND_KIB} KiB)",
        hwm.saturating_sub(rss0)
    );
    assert!(overflow > 1_000, "the flood did not reach the jitter buffer (overflow {overflow})");
    assert!(log.contains("RTP flood"), "the shell's per-call rate cap did not engage\n{log}");
    assert!(hwm.saturating_sub(rss0) <= FLOOD_RSS_BOUND_KIB, "peak RSS grew by {} KiB", hwm.saturating_sub(rss0));
}

#[test]
fn busy_rtp_ports_are_skipped_and_503_comes_only_when_the_range_is_exhausted() {
    let server = Server::start("");
    let (lo, hi) = server.rtp;
    let ports: Vec<u16> = (lo..=hi).filter(|p| p % 2 == 0).collect();
    // Another process holds the first half of the range (the allocator tries them first).
    let held: Vec<UdpSocket> = ports[..ports.len() / 2].iter().filter_map(|p| UdpSocket::bind(("127.0.0.1", *p)).ok()).collect();
    let held_ports: Vec<u16> = held.iter().filter_map(|s| s.local_addr().ok()).map(|a| a.port()).collect();
    let free = ports.len() - held_ports.len();
    let mut calls: Vec<Uac> = (0..free).map(|_| Uac::new(server.port)).collect();
    for c in &calls {
        c.send_invite();
    }
    for c in &mut calls {
        assert_eq!(c.await_answer(WAIT), Some(200), "a call was not answered\n{}", server.log_text());
        let port = c.remote_rtp.map(|a| a.port()).expect("SDP");
        assert!(!held_ports.contains(&port), "answered on a busy port {port}");
    }
    for c in &calls {
        assert!(c.recv_rtp(WAIT).is_some(), "a call got no media\n{}", server.log_text());
    }
    // Every port is now in use or busy: the next call gets 503, not silence.
    let mut extra = Uac::new(server.port);
    assert_eq!(extra.call(WAIT), Some(503), "{}", server.log_text());
    for c in &mut calls {
        c.bye();
    }
    let log = server.log_text();
    assert!(log.contains("RTP port busy"), "{log}");
    assert!(!log.contains("will time out"), "{log}");
    drop(held);
}
