//! Telephony core of the 3230 voicebot: a SIP user agent server over UDP with RTP
//! media, built as sans-IO state machines with a thin tokio shell.
//!
//! # Layers
//! - [`sip::message`] parses and writes SIP (rsip underneath), [`sip::transaction`]
//!   holds the RFC 3261 §17 transactions, [`sip::dialog`] the dialog state.
//! - [`sdp`] does offer/answer for PCMA/PCMU/telephone-event.
//! - [`rtp`]: G.711, adaptive jitter buffer (bounded: packets and bytes), RFC 4733 DTMF,
//!   minimal RTCP, per-call stream locked to the peer's media source.
//! - [`media`]: prompts as pre-encoded 20 ms frames and paced playback.
//! - [`endpoint::Endpoint`] ties them together: `handle_input(now, Input)` then drain
//!   `poll_output()`; it never sleeps or touches a socket, takes its time from `now`
//!   (the wall clock is read only for the NTP timestamp of RTCP reports) and its random
//!   values from an injected [`endpoint::Entropy`]. RTP ports are bound by the shell
//!   (`OpenMedia`, answered `MediaOpened`/`MediaFailed`): a call is answered once its
//!   port is bound, a busy port sends it to the next.
//! - [`server`] is the tokio shell: one SIP socket, one RTP socket per call (at most
//!   2,000 datagrams/s each), one 20 ms ticker driving every call's pacing.
//!
//! # Application interface
//! A conversation engine implements [`server::Application`]: for each established call
//! it gets a [`server::CallHandle`], a channel pair. Events ([`app::CallEvent`]):
//! `Started(CallInfo)` (Call-ID, From/caller, To/dialled number, all INVITE headers
//! such as the flow header), `Audio` (160 decoded samples per 20 ms after the jitter
//! buffer), `Dtmf` (RFC 4733 or SIP INFO), `PlaybackFinished`/`PlaybackStopped`
//! with `played_ms`/`total_ms` (what the caller actually heard, for SC3.2), `Hold`,
//! `Transfer` (REFER outcome from the 202/4xx and the NOTIFY sipfrag), and finally
//! `Hangup { by: Caller | Bot | Timeout }`. Commands ([`app::CallCommand`]): `Play`
//! (a [`media::prompt::Prompt`], interruptible or not), `StopPlayback`, `SendDtmf`,
//! `Hangup`, `Transfer { target_uri, headers }`.
//! [`script::FixedScript`] is the first application: greeting, DTMF collection,
//! play-back of what the caller said, hang-up.

pub mod app;
pub mod call;
pub mod config;
pub mod endpoint;
pub mod media;
pub mod rtp;
pub mod script;
pub mod sdp;
pub mod server;
pub mod sip;
