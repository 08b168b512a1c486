//! The application interface: what a conversation engine sees of a call
//! ([`CallEvent`]) and what it can ask ([`CallCommand`]).

use std::net::SocketAddr;
use std::sync::Arc;

use crate::media::prompt::Prompt;
use crate::sdp::Codec;

/// Everything known about a call when it is answered.
#[derive(Debug, Clone)]
pub struct CallInfo {
    pub call_id: String,
    /// The From header value and its URI user (the caller's number, if any).
    pub from: String,
    pub caller: Option<String>,
    /// The To header value and the dialled number (Request-URI user).
    pub to: String,
    pub dialled: Option<String>,
    /// All INVITE headers, in order (the flow header set by the trunk, P-Asserted-Identity...).
    pub headers: Vec<(String, String)>,
    /// Where the INVITE came from (the trunk): decides whether its P-Asserted-Identity is trusted.
    pub source: SocketAddr,
    pub remote_rtp: Option<SocketAddr>,
    pub codec: Option<Codec>,
}

impl CallInfo {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DtmfSource {
    Rfc4733,
    SipInfo,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HangupBy {
    Caller,
    Bot,
    /// No RTP, no ACK, or session timer expiry.
    Timeout,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferOutcome {
    /// The transfer target answered (NOTIFY sipfrag 2xx).
    Completed,
    /// The REFER itself was refused with this status.
    Refused(u16),
    /// REFER accepted but the transfer failed (NOTIFY sipfrag status), or no answer.
    Failed(u16),
}

#[derive(Debug, Clone)]
pub enum CallEvent {
    /// The call is established: 200 OK sent and ACKed (a call whose 200 is never
    /// acknowledged never starts; nothing is told of it).
    Started(CallInfo),
    /// 20 ms of decoded caller audio at 8 kHz (160 samples), after the jitter buffer.
    /// `at` is the frame's place on the call's timeline: frames played without a break
    /// are 20 ms apart even when a stall made several come out in one tick, and after a
    /// pause of the sender the next one is placed at the tick that took it. The
    /// application reads it late (a busy CPU) or early (a catch-up) and still places the
    /// audio, and the pauses it measures, where they were.
    Audio {
        samples: Vec<i16>,
        at: std::time::Instant,
    },
    Dtmf {
        digit: char,
        source: DtmfSource,
    },
    PlaybackFinished {
        prompt_id: String,
        played_ms: u64,
        total_ms: u64,
    },
    PlaybackStopped {
        prompt_id: String,
        played_ms: u64,
        total_ms: u64,
    },
    /// The caller put us on hold (true) or resumed (false).
    Hold(bool),
    Transfer(TransferOutcome),
    /// Always the last event of a call.
    Hangup {
        by: HangupBy,
        reason: String,
    },
}

#[derive(Debug, Clone)]
pub enum CallCommand {
    /// Replaces the current playback, if any (which is reported as stopped).
    Play {
        prompt: Arc<Prompt>,
        interruptible: bool,
    },
    /// Stops the current playback; answered with `PlaybackStopped` carrying `played_ms`.
    StopPlayback,
    SendDtmf(char),
    Hangup,
    /// REFER the caller to `target_uri`; `headers` go on the REFER (User-to-User, X-...).
    Transfer {
        target_uri: String,
        headers: Vec<(String, String)>,
    },
}
