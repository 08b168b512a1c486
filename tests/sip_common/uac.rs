//! A minimal SIP caller over UDP for tests that need to act on the media path
//! itself (send RTP from chosen sockets, count what comes back): INVITE with a
//! PCMU + telephone-event offer, ACK, answers to the server's in-dialog requests,
//! BYE. Every wait is bounded; nothing here trusts the server's bytes.

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// One SIP message as text: start line and headers (names as the server wrote them).
#[derive(Debug, Clone)]
pub struct Msg {
    pub text: String,
}

impl Msg {
    pub fn start_line(&self) -> &str {
        self.text.lines().next().unwrap_or("")
    }

    /// The status code of a response.
    pub fn code(&self) -> Option<u16> {
        self.start_line().strip_prefix("SIP/2.0 ")?.get(..3)?.parse().ok()
    }

    /// The method of a request.
    pub fn method(&self) -> Option<&str> {
        let l = self.start_line();
        (!l.starts_with("SIP/2.0")).then(|| l.split(' ').next()).flatten()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers(name).into_iter().next()
    }

    pub fn headers(&self, name: &str) -> Vec<&str> {
        let head = self.text.split("\r\n\r\n").next().unwrap_or("");
        head.lines()
            .skip(1)
            .filter_map(|l| {
                let (n, v) = l.split_once(':')?;
                n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
            })
            .collect()
    }

    pub fn body(&self) -> &str {
        self.text.split_once("\r\n\r\n").map_or("", |(_, b)| b)
    }

    /// The audio address of an SDP body (c= and m=audio).
    pub fn sdp_audio(&self) -> Option<SocketAddr> {
        let body = self.body();
        let ip = body.lines().find_map(|l| l.strip_prefix("c=IN IP4 "))?.trim();
        let port = body.lines().find_map(|l| l.strip_prefix("m=audio "))?.split_whitespace().next()?;
        format!("{ip}:{port}").parse().ok()
    }
}

/// A 12-byte RTP header and its payload.
pub fn rtp_packet(pt: u8, marker: bool, seq: u16, ts: u32, ssrc: u32, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, pt | if marker { 0x80 } else { 0 }];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ts.to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

/// RFC 4733 event packet (`end` sets the E bit), for event `digit` 0-15.
pub fn dtmf_packet(seq: u16, ts: u32, ssrc: u32, event: u8, end: bool, duration: u16) -> Vec<u8> {
    let d = duration.to_be_bytes();
    rtp_packet(101, !end, seq, ts, ssrc, &[event, if end { 0x80 | 10 } else { 10 }, d[0], d[1]])
}

pub const PCMU_SILENCE: u8 = 0xFF;

pub struct Uac {
    pub sip: UdpSocket,
    pub rtp: UdpSocket,
    pub server: SocketAddr,
    pub call_id: String,
    from_tag: String,
    /// The To header of the 200 (with the server's tag).
    to: String,
    cseq: u32,
    invite_branch: String,
    /// Where the server wants our RTP (its SDP).
    pub remote_rtp: Option<SocketAddr>,
}

static NEXT: AtomicU32 = AtomicU32::new(1);

impl Uac {
    pub fn new(server_port: u16) -> Uac {
        let sip = UdpSocket::bind("127.0.0.1:0").expect("bind SIP socket");
        // An even RTP port, as SDP peers expect.
        let rtp = loop {
            let s = UdpSocket::bind("127.0.0.1:0").expect("bind RTP socket");
            if s.local_addr().expect("addr").port().is_multiple_of(2) {
                break s;
            }
        };
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        Uac {
            sip,
            rtp,
            server: SocketAddr::from(([127, 0, 0, 1], server_port)),
            call_id: format!("uac-{}-{n}@127.0.0.1", std::process::id()),
            from_tag: format!("ft{n}"),
            to: String::new(),
            cseq: 1,
            invite_branch: Self::branch(),
            remote_rtp: None,
        }
    }

    pub fn sip_addr(&self) -> SocketAddr {
        self.sip.local_addr().expect("addr")
    }

    pub fn rtp_addr(&self) -> SocketAddr {
        self.rtp.local_addr().expect("addr")
    }

    fn branch() -> String {
        format!("z9hG4bKuac{}", NEXT.fetch_add(1, Ordering::SeqCst))
    }

    /// Sends the INVITE (flow header `X-Flow: 2`); returns at once.
    pub fn send_invite(&self) {
        let me = self.sip_addr();
        let sdp = format!(
            "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=ptime:20\r\na=sendrecv\r\n",
            self.rtp_addr().port()
        );
        let msg = format!(
            "INVITE sip:3230@{srv} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch={}\r\nMax-Forwards: 70\r\nFrom: <sip:caller@127.0.0.1>;tag={}\r\nTo: <sip:3230@127.0.0.1>\r\nCall-ID: {}\r\nCSeq: 1 INVITE\r\nContact: <sip:caller@{me}>\r\nX-Flow: 2\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
            self.invite_branch,
            self.from_tag,
            self.call_id,
            sdp.len(),
            srv = self.server,
        );
        self.sip.send_to(msg.as_bytes(), self.server).expect("send INVITE");
    }

    /// Waits for the final response to the INVITE; on 2xx records the dialog and
    /// the server's RTP address and sends the ACK. Returns the final status.
    pub fn await_answer(&mut self, within: Duration) -> Option<u16> {
        let end = Instant::now() + within;
        while let Some(m) = self.recv_sip(end.saturating_duration_since(Instant::now())) {
            let Some(code) = m.code() else { continue };
            if code < 200 || !m.header("CSeq").is_some_and(|c| c.ends_with("INVITE")) {
                continue;
            }
            self.to = m.header("To").unwrap_or_default().to_string();
            if code < 300 {
                self.remote_rtp = m.sdp_audio();
            }
            self.ack(code);
            return Some(code);
        }
        None
    }

    /// INVITE then the final answer.
    pub fn call(&mut self, within: Duration) -> Option<u16> {
        self.send_invite();
        self.await_answer(within)
    }

    fn ack(&self, code: u16) {
        // The ACK of a non-2xx belongs to the INVITE transaction (same branch); a 2xx's is a new one.
        let branch = if code < 300 { Self::branch() } else { self.invite_branch.clone() };
        let to = &self.to;
        let me = self.sip_addr();
        let msg = format!(
            "ACK sip:3230@{srv} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch={}\r\nMax-Forwards: 70\r\nFrom: <sip:caller@127.0.0.1>;tag={}\r\nTo: {to}\r\nCall-ID: {}\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n",
            branch,
            self.from_tag,
            self.call_id,
            srv = self.server,
        );
        let _ = self.sip.send_to(msg.as_bytes(), self.server);
    }

    /// The next SIP message within `within`.
    pub fn recv_sip(&self, within: Duration) -> Option<Msg> {
        let mut buf = [0u8; 8192];
        self.sip.set_read_timeout(Some(within.max(Duration::from_millis(1)))).ok()?;
        let (n, _) = self.sip.recv_from(&mut buf).ok()?;
        Some(Msg { text: String::from_utf8_lossy(&buf[..n]).into_owned() })
    }

    /// Answers a request of the server with `code` (its Via, From, To, Call-ID, CSeq copied).
    pub fn respond(&self, req: &Msg, code: u16, reason: &str) {
        let mut msg = format!("SIP/2.0 {code} {reason}\r\n");
        for name in ["Via", "From", "To", "Call-ID", "CSeq"] {
            for v in req.headers(name) {
                msg.push_str(&format!("{name}: {v}\r\n"));
            }
        }
        msg.push_str("Content-Length: 0\r\n\r\n");
        let _ = self.sip.send_to(msg.as_bytes(), self.server);
    }

    /// Waits for a request of the server with this method, answering (200) any other
    /// request on the way. None if none came in time.
    pub fn await_request(&self, method: &str, within: Duration) -> Option<Msg> {
        let end = Instant::now() + within;
        while let Some(m) = self.recv_sip(end.saturating_duration_since(Instant::now())) {
            match m.method() {
                Some(x) if x == method => return Some(m),
                Some(_) => self.respond(&m, 200, "OK"),
                None => {}
            }
        }
        None
    }

    /// Sends an in-dialog NOTIFY carrying a sipfrag with this status (RFC 3515).
    pub fn notify(&mut self, sipfrag_code: u16) {
        self.cseq += 1;
        let body = format!("SIP/2.0 {sipfrag_code} Whatever\r\n");
        let me = self.sip_addr();
        let msg = format!(
            "NOTIFY sip:3230@{srv} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch={}\r\nMax-Forwards: 70\r\nFrom: <sip:caller@127.0.0.1>;tag={}\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: {} NOTIFY\r\nEvent: refer\r\nSubscription-State: terminated\r\nContent-Type: message/sipfrag\r\nContent-Length: {}\r\n\r\n{body}",
            Self::branch(),
            self.from_tag,
            self.to,
            self.call_id,
            self.cseq,
            body.len(),
            srv = self.server,
        );
        let _ = self.sip.send_to(msg.as_bytes(), self.server);
    }

    /// Sends a BYE (no wait for its answer).
    pub fn bye(&mut self) {
        self.cseq += 1;
        let me = self.sip_addr();
        let msg = format!(
            "BYE sip:3230@{srv} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch={}\r\nMax-Forwards: 70\r\nFrom: <sip:caller@127.0.0.1>;tag={}\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: {} BYE\r\nContent-Length: 0\r\n\r\n",
            Self::branch(),
            self.from_tag,
            self.to,
            self.call_id,
            self.cseq,
            srv = self.server,
        );
        let _ = self.sip.send_to(msg.as_bytes(), self.server);
    }

    /// Sends one RTP packet from our media socket to the server's.
    pub fn send_rtp(&self, packet: &[u8]) {
        if let Some(to) = self.remote_rtp {
            let _ = self.rtp.send_to(packet, to);
        }
    }

    /// The next RTP packet from the server (RTCP skipped) within `within`.
    pub fn recv_rtp(&self, within: Duration) -> Option<Vec<u8>> {
        let end = Instant::now() + within;
        let mut buf = [0u8; 2048];
        loop {
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            self.rtp.set_read_timeout(Some(left)).ok()?;
            let (n, _) = self.rtp.recv_from(&mut buf).ok()?;
            let is_rtcp = n >= 2 && (200..=204).contains(&buf[1]);
            if n >= 12 && !is_rtcp {
                return Some(buf[..n].to_vec());
            }
        }
    }
}
