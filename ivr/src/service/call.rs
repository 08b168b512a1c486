//! One call: telephony events in, the conversation in the middle, telephony commands and
//! accounting events out. Audio path: 8 kHz frames → 16 kHz → Silero VAD → endpointer.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ivr_accounting::chrono::Utc;
use ivr_accounting::{CallRecord, Caller, EndedBy, Event, EventKind, NewRequest, Playback, RequestKind};
use ivr_dialogue::conversation::{Action, Conversation};
use ivr_dialogue::policy::{DialogueEvent, Flow, ProcedureKind, ProcedureRecord, TransferRequest};
use ivr_speech::audio::resample::StreamResampler;
use ivr_telephony::app::{CallCommand, CallEvent, HangupBy, TransferOutcome};
use ivr_telephony::server::{Application, CallHandle};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::Instrument;

use super::recognize::{CommandPlayer, PoolRecognizer};
use super::Service;

/// The conversation as telephony's application.
pub struct ConversationApp(pub Arc<Service>);

impl Application for ConversationApp {
    fn on_call(&self, call: CallHandle) {
        // The caller is named by the day's pseudonym once known, never by number.
        let span = tracing::info_span!("call", call_id = %call.call_id, caller = tracing::field::Empty);
        tokio::spawn(run(Arc::clone(&self.0), call).instrument(span));
    }
}

type Conv = Conversation<PoolRecognizer, CommandPlayer>;

/// Accounting of one call: events go to the recorder as they happen and are kept to
/// build the call's record at the end.
struct Books {
    call_id: String,
    events: Vec<Event>,
    transferred: bool,
    flow: Flow,
    /// False for a draft call (an editor trying the draft): nothing reaches the accounting.
    record: bool,
}

impl Books {
    /// The accounting of this call, if it is recorded.
    fn accounting<'a>(&self, service: &'a Service) -> Option<&'a super::Accounting> {
        service.accounting.as_ref().filter(|_| self.record)
    }

    fn push(&mut self, service: &Service, kind: EventKind) {
        let e = Event::new(self.call_id.clone(), Utc::now(), kind);
        if let Some(acc) = self.accounting(service) {
            acc.recorder.record(e.clone());
            ivr_console::metrics::global().accounting_event();
        }
        self.events.push(e);
    }
}

async fn run(service: Arc<Service>, mut call: CallHandle) {
    let commands = call.commands.clone();
    let call_id = call.call_id.clone();
    let (results_tx, mut results) = mpsc::unbounded_channel();
    let audio = Arc::new(Mutex::new(Vec::<f32>::new()));
    // The first event is the call's start: the number dialled says whether the call runs
    // the editors' draft (not recorded) or the published content. Either is kept to the
    // call's end: a publication during the call changes the next calls, not this one.
    let mut first = call.events.recv().await;
    let draft_call = match (&first, &service.draft) {
        (Some(CallEvent::Started(info)), Some(draft)) => draft.is_draft_call(info.dialled.as_deref()),
        _ => false,
    };
    let draft_content = match (&service.draft, draft_call) {
        (Some(draft), true) => draft.content().await,
        _ => None,
    };
    let content = draft_content.unwrap_or_else(|| service.content.get());
    if draft_call {
        tracing::info!(content_version = content.version, "draft call: not recorded in the accounting");
    }
    let recognizer = PoolRecognizer {
        service: Arc::clone(&service),
        content: Arc::clone(&content),
        audio: Arc::clone(&audio),
        results: results_tx,
        jobs: Default::default(),
        call_id: call_id.clone(),
    };
    let player = CommandPlayer { content: Arc::clone(&content), commands: commands.clone(), pending: Default::default(), last_play: None };
    let mut conv: Conv = Conversation::new(service.endpointing.clone(), content.dialogue.clone(), recognizer, player);
    conv.set_slow_after(service.wait_prompt_after);
    let mut books = Books { call_id: call_id.clone(), events: Vec::new(), transferred: false, flow: Flow::Choix2, record: !draft_call };
    let mut resampler = match StreamResampler::new(8_000, 16_000) {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "no resampler: hanging up");
            commands.send(CallCommand::Hangup);
            return;
        }
    };
    let mut vad = match service.vad.stream() {
        Ok(v) => v,
        Err(e) => {
            tracing::error!(error = %e, "no VAD stream: hanging up");
            commands.send(CallCommand::Hangup);
            return;
        }
    };
    let started = Instant::now();
    let mut speech_prob = 0.0f32;
    let mut transfer_to: Option<TransferRequest> = None;
    loop {
        let now = started.elapsed();
        let deadline = conv.poll_timeout().map(|t| started + t.max(now)).unwrap_or(started + now + Duration::from_secs(3600));
        let actions = tokio::select! {
            ev = next_event(&mut first, &mut call.events) => {
                let Some(ev) = ev else { break };
                let now = started.elapsed();
                match ev {
                    CallEvent::Started(info) => {
                        let flow = service.flow_of(&info);
                        let at = Utc::now();
                        let open = service.is_open(at);
                        let caller = match books.accounting(&service) {
                            Some(acc) => {
                                // P-Asserted-Identity only from a trusted trunk (`[caller_id]`).
                                let asserted = match info.header("P-Asserted-Identity") {
                                    Some(pai) if service.caller_id.trusts(info.source.ip()) => ivr_telephony::sip::message::split_list(pai),
                                    _ => Vec::new(),
                                };
                                let number = ivr_accounting::identify_caller(&info.from, &asserted, info.header("Privacy"));
                                acc.pseudonyms.caller(&number, at).await.unwrap_or_else(|e| {
                                    tracing::warn!(error = %e, "no pseudonym: counted as withheld");
                                    Caller::Withheld
                                })
                            }
                            None => Caller::Withheld,
                        };
                        match &caller {
                            Caller::Pseudonym(p) => tracing::Span::current().record("caller", p.get(..16).unwrap_or(p)),
                            Caller::Withheld => tracing::Span::current().record("caller", "withheld"),
                        };
                        books.flow = flow;
                        books.push(&service, EventKind::Started { flow, caller });
                        books.push(&service, EventKind::Answered);
                        tracing::info!(flow = flow.number(), open, dialled = ?info.dialled, "call started");
                        // The presented number stays out of the dialogue: a call-back number is
                        // one the caller keys or says, so nothing stores the signalled one.
                        let switches = service.switches_now();
                        service.live.call_started(&call_id, flow.number(), !open || switches.closed);
                        conv.start(flow, at, open, switches, now)
                    }
                    CallEvent::Audio { samples, at } => {
                        // The frame's own time, not when this task got to it: under CPU
                        // load frames queue up, and stamping them late would misplace
                        // speech in the buffer and cut the end of questions.
                        let now = at.saturating_duration_since(started.into_std());
                        let pcm16 = resampler.push_i16(&samples);
                        match vad.push(&pcm16) {
                            // The VAD works on 32 ms chunks: each 20 ms frame takes the latest.
                            Ok(p) => if let Some(last) = p.last() {
                                if (*last >= 0.5) != (speech_prob >= 0.5) {
                                    tracing::debug!(prob = *last, at_ms = now.as_millis() as u64, "voicing changed");
                                }
                                speech_prob = *last
                            },
                            Err(e) => tracing::warn!(error = %e, "VAD step failed"),
                        }
                        if let Ok(mut a) = audio.lock() {
                            // The buffer is indexed by call time (the endpointer's clock): audio
                            // that starts late or has gaps (the caller's phone stopped sending
                            // during a pause) is padded with silence to stay aligned.
                            let frame_start = (now.saturating_sub(Duration::from_millis(20)).as_secs_f64() * 16_000.0) as usize;
                            if a.len() + 1_600 < frame_start {
                                a.resize(frame_start, 0.0);
                            }
                            a.extend_from_slice(&pcm16);
                        }
                        conv.on_frame(speech_prob, now)
                    }
                    CallEvent::Dtmf { digit, .. } => conv.on_dtmf(digit, now),
                    CallEvent::PlaybackFinished { prompt_id, played_ms, total_ms } | CallEvent::PlaybackStopped { prompt_id, played_ms, total_ms } => {
                        match conv.player_mut().pending.pop_front() {
                            Some((id, key)) => {
                                if key != prompt_id {
                                    tracing::debug!(%key, %prompt_id, "playback report out of order");
                                }
                                conv.on_playback_finished(id, played_ms, total_ms, now)
                            }
                            None => Vec::new(),
                        }
                    }
                    CallEvent::Transfer(outcome) => {
                        tracing::info!(?outcome, "transfer result");
                        let accepted = outcome == TransferOutcome::Completed;
                        service.live.transferring(&call_id, accepted);
                        if accepted {
                            // The caller is with the agent now: our leg of the call is over.
                            books.transferred = true;
                            commands.send(CallCommand::Hangup);
                        }
                        conv.on_transfer_result(accepted, now)
                    }
                    CallEvent::Hold(h) => {
                        tracing::info!(hold = h, "hold");
                        Vec::new()
                    }
                    CallEvent::Hangup { by, reason } => {
                        let actions = conv.on_hangup(now);
                        apply(&service, &commands, &mut books, &mut transfer_to, actions);
                        conv.recognizer_mut().cancel_all();
                        let ended = if books.transferred {
                            EndedBy::Transfer
                        } else {
                            match by {
                                HangupBy::Caller => EndedBy::Caller,
                                HangupBy::Bot => EndedBy::Bot,
                                HangupBy::Timeout => EndedBy::Network,
                            }
                        };
                        books.push(&service, EventKind::Ended { by: ended });
                        tracing::info!(?by, %reason, path = ?transfer_to.as_ref().map(|t| t.path.join(">")), "call finished");
                        finish(&service, &books);
                        return;
                    }
                }
            }
            r = results.recv() => match r {
                Some(r) => {
                    service.live.recognizing(&call_id, false);
                    service.live.asr_latency(r.asr_ms);
                    let now = started.elapsed();
                    let before = conv.player().last_play.as_ref().map(|(_, at)| *at);
                    let actions = conv.on_recognized(r.id, r.text, r.understanding, now);
                    if let Some((key, at)) = &conv.player().last_play {
                        if Some(*at) != before && key.starts_with("answer/") {
                            // Speech end → answer audio: the job was submitted once the
                            // speculative silence had passed, so that silence is added back.
                            let ms = r.submitted.elapsed().as_millis() as u64 + service.endpointing.speculative_silence_ms;
                            tracing::info!(latency_ms = ms, asr_ms = r.asr_ms, %key, "answer latency");
                            ivr_console::metrics::global().answer_latency.observe_ms(ms);
                        }
                    }
                    actions
                }
                None => Vec::new(),
            },
            _ = tokio::time::sleep_until(deadline) => conv.tick(started.elapsed()),
        };
        apply(&service, &commands, &mut books, &mut transfer_to, actions);
        service.live.after_step(&call_id, conv.player().pending.back().map(|(_, key)| key.as_str()));
    }
    // The telephony side dropped the call without a Hangup event.
    conv.recognizer_mut().cancel_all();
    books.push(&service, EventKind::Ended { by: EndedBy::Network });
    finish(&service, &books);
}

/// The event read before the loop first, then the call's next ones (cancel-safe: nothing
/// is taken before the future is polled).
async fn next_event(first: &mut Option<CallEvent>, events: &mut mpsc::UnboundedReceiver<CallEvent>) -> Option<CallEvent> {
    match first.take() {
        Some(e) => Some(e),
        None => events.recv().await,
    }
}

fn apply(
    service: &Service,
    commands: &ivr_telephony::server::CallCommander,
    books: &mut Books,
    transfer_to: &mut Option<TransferRequest>,
    actions: Vec<Action>,
) {
    for action in actions {
        match action {
            Action::Transfer(t) => {
                let headers = reason_headers(&t);
                tracing::info!(target_uri = %t.target, reason = ?t.reason, topic = ?t.topic, "transfer");
                commands.send(CallCommand::Transfer { target_uri: t.target.clone(), headers });
                service.live.transferring(&books.call_id, true);
                *transfer_to = Some(t);
            }
            Action::Hangup => {
                commands.send(CallCommand::Hangup);
            }
            Action::Event(e) => {
                // One machine-readable line per dialogue event: the logs tell the call's
                // story, without what the caller said or keyed.
                tracing::info!(event = %loggable(&e), "dialogue");
                if let DialogueEvent::Question { intent, action, .. } = &e {
                    service.live.topic(&books.call_id, intent);
                    ivr_console::metrics::global().matcher_decisions.inc(action);
                }
                if let DialogueEvent::Procedure(record) = &e {
                    deliver_request(service, books, record);
                }
                if let Some(kind) = accounting_event(&e) {
                    books.push(service, kind);
                }
            }
        }
    }
}

/// The dialogue event as it may be logged (DESIGN §8): no transcript, no keyed digit, none
/// of the details a procedure collected; their sizes stand in for them. Every variant is
/// listed, so a new field with personal data cannot reach the log without a decision here.
fn loggable(e: &DialogueEvent) -> serde_json::Value {
    use serde_json::json;
    match e {
        DialogueEvent::Question { transcript, intent, score, action } => {
            json!({"event": "question", "intent": intent, "score": score, "action": action, "chars": transcript.chars().count()})
        }
        DialogueEvent::Played { key, answer, played_ms, total_ms } => {
            json!({"event": "played", "key": key, "answer": answer, "played_ms": played_ms, "total_ms": total_ms})
        }
        DialogueEvent::BargeIn { key } => json!({"event": "barge_in", "key": key}),
        DialogueEvent::Dtmf { .. } => json!({"event": "dtmf"}),
        DialogueEvent::Transfer { target, reason, topic } => json!({"event": "transfer", "target": target, "reason": reason, "topic": topic}),
        DialogueEvent::TransferFailed => json!({"event": "transfer_failed"}),
        DialogueEvent::Procedure(r) => json!({
            "event": "procedure", "kind": r.kind, "complete": r.complete,
            "keyed": r.digits.chars().count(), "chars": r.transcript.chars().count(),
        }),
        DialogueEvent::Ended { reason } => json!({"event": "ended", "reason": reason}),
    }
}

/// Hands a completed procedure to the agents: a row of the `requests` table (same database
/// as the accounting), listed by `ivr requests`. An incomplete one went to an agent live.
fn deliver_request(service: &Service, books: &Books, record: &ProcedureRecord) {
    if !record.complete || (record.digits.is_empty() && record.transcript.trim().is_empty()) {
        return;
    }
    if !books.record {
        tracing::info!(kind = ?record.kind, "draft call: the procedure request is not kept");
        return;
    }
    let Some(acc) = &service.accounting else {
        tracing::warn!(kind = ?record.kind, "no database (--db-url none): the procedure request is not kept");
        return;
    };
    let kind = match record.kind {
        ProcedureKind::Rappel => RequestKind::Rappel,
        ProcedureKind::AttestationNonPaiement => RequestKind::AttestationNonPaiement,
    };
    let request = NewRequest {
        kind,
        call_id: books.call_id.clone(),
        flow: books.flow,
        at: Utc::now(),
        topic: record.topic.clone(),
        keyed: record.digits.clone(),
        transcript: record.transcript.clone(),
    };
    // Through the recorder: written with the call's other accounting, and spooled like them
    // while the database is down, so a request is never lost to an outage.
    let stored = acc.recorder.request(request);
    tokio::spawn(
        async move {
            match stored.await {
                Ok(()) => tracing::info!(kind = kind.as_str(), "procedure request stored"),
                Err(e) => tracing::error!(kind = kind.as_str(), error = %e, "procedure request NOT stored"),
            }
        }
        .instrument(tracing::Span::current()),
    );
}

fn accounting_event(e: &DialogueEvent) -> Option<EventKind> {
    Some(match e {
        DialogueEvent::Question { transcript, intent, score, .. } => {
            EventKind::Question { transcript: transcript.clone(), intent: intent.clone(), score: *score }
        }
        DialogueEvent::Played { key, answer, played_ms, total_ms } => {
            let what = match answer {
                Some(slug) => Playback::Answer(slug.clone()),
                None => Playback::Prompt(key.clone()),
            };
            EventKind::Played { what, total_ms: *total_ms, played_ms: *played_ms }
        }
        DialogueEvent::BargeIn { .. } => EventKind::BargeIn,
        DialogueEvent::Dtmf { digit } => EventKind::Dtmf { digit: *digit },
        DialogueEvent::Transfer { target, reason, topic } => {
            let reason = serde_json::to_value(reason).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
            let reason = match topic {
                Some(t) => format!("{reason}:{t}"),
                None => reason,
            };
            EventKind::Transfer { target: target.clone(), reason, to_agent: true }
        }
        DialogueEvent::TransferFailed => EventKind::TransferFailed,
        DialogueEvent::Procedure(_) | DialogueEvent::Ended { .. } => return None,
    })
}

/// The REFER's reason headers, so the agent does not ask again: one line each, no CR/LF,
/// bounded length.
fn reason_headers(t: &TransferRequest) -> Vec<(String, String)> {
    let clean = |s: &str| -> String { s.chars().map(|c| if c.is_control() { ' ' } else { c }).take(200).collect() };
    let reason = serde_json::to_value(t.reason).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
    let mut headers = vec![("X-Ivr-Reason".to_string(), reason), ("X-Ivr-Flow".to_string(), t.flow.number().to_string())];
    if let Some(topic) = &t.topic {
        headers.push(("X-Ivr-Topic".to_string(), clean(topic)));
    }
    if !t.transcript.is_empty() {
        headers.push(("X-Ivr-Transcript".to_string(), clean(&t.transcript)));
    }
    headers.push(("X-Ivr-Path".to_string(), clean(&t.path.join(">"))));
    headers
}

fn finish(service: &Service, books: &Books) {
    service.live.call_ended(&books.call_id);
    let ended = books.events.iter().rev().find_map(|e| match &e.kind {
        EventKind::Ended { by } => Some(*by),
        _ => None,
    });
    ivr_console::metrics::global().calls_ended.inc(match ended {
        Some(EndedBy::Caller) => "caller",
        Some(EndedBy::Bot) => "bot",
        Some(EndedBy::Transfer) => "transfer",
        Some(EndedBy::Network) => "network",
        _ => "lost",
    });
    let Some(acc) = books.accounting(service) else { return };
    match CallRecord::from_events(&books.events) {
        Ok(rec) => {
            let committed = acc.recorder.finish_call(rec);
            let call_id = books.call_id.clone();
            tokio::spawn(async move {
                if committed.await.is_ok() {
                    tracing::info!(%call_id, "call record committed");
                }
            });
        }
        Err(e) => tracing::error!(error = %e, "call record not built"),
    }
}
