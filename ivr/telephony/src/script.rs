//! The fixed call flow used until the conversation engine plugs in: play the
//! greeting (interruptible by a key), collect DTMF up to `#` or a pause, play back
//! what the caller said during collection, hang up. Key `0` transfers the call to
//! the flow's agent queue when one is configured.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::app::{CallCommand, CallEvent, TransferOutcome};
use crate::media::prompt::Prompt;
use crate::server::{Application, CallHandle};

pub struct FixedScript {
    pub greeting: Arc<Prompt>,
    /// Flow header value → transfer target URI.
    pub transfer: BTreeMap<String, String>,
    pub flow_header: String,
    /// How long to wait for digits after the greeting.
    pub collect_for: Duration,
}

const MAX_RECORD_FRAMES: usize = 150; // 3 s

impl Application for FixedScript {
    fn on_call(&self, call: CallHandle) {
        let greeting = self.greeting.clone();
        let transfer = self.transfer.clone();
        let flow_header = self.flow_header.clone();
        let collect_for = self.collect_for;
        tokio::spawn(async move { run(call, greeting, transfer, flow_header, collect_for).await });
    }
}

#[derive(PartialEq)]
enum Phase {
    Greeting,
    Collecting,
    PlayingBack,
    Transferring,
    Done,
}

async fn run(mut call: CallHandle, greeting: Arc<Prompt>, transfer: BTreeMap<String, String>, flow_header: String, collect_for: Duration) {
    let cmd = call.commands.clone();
    let mut phase = Phase::Greeting;
    let mut digits = String::new();
    let mut recorded: Vec<i16> = Vec::new();
    let mut frames = 0usize;
    let mut target: Option<String> = None;
    let far = Instant::now() + Duration::from_secs(86_400);
    let mut deadline = far;
    loop {
        let ev = tokio::select! {
            ev = call.events.recv() => ev,
            _ = tokio::time::sleep_until(deadline) => {
                deadline = far;
                if phase == Phase::Collecting {
                    play_back(&cmd, &mut phase, &recorded, &greeting);
                }
                continue;
            }
        };
        let Some(ev) = ev else { return };
        match ev {
            CallEvent::Started(info) => {
                let flow = info.header(&flow_header).map(str::to_string);
                target = flow.as_ref().and_then(|f| transfer.get(f)).or_else(|| transfer.values().next()).cloned();
                // Never the caller's number (personal data): the dialled service number and flow only.
                tracing::info!(call_id = %info.call_id, dialled = ?info.dialled, ?flow, "call started");
                cmd.send(CallCommand::Play { prompt: greeting.clone(), interruptible: true });
            }
            CallEvent::Dtmf { digit, source } => {
                // Keys are personal data (a number, a date): counted, never logged.
                tracing::debug!(call_id = %call.call_id, ?source, "dtmf digit");
                if phase == Phase::Greeting {
                    cmd.send(CallCommand::StopPlayback);
                }
                if digit == '0' {
                    if let Some(t) = &target {
                        phase = Phase::Transferring;
                        let headers = vec![("X-Reason".to_string(), "caller pressed 0".to_string())];
                        cmd.send(CallCommand::Transfer { target_uri: t.clone(), headers });
                        continue;
                    }
                }
                digits.push(digit);
                if phase == Phase::Greeting || phase == Phase::Collecting {
                    phase = Phase::Collecting;
                    deadline = Instant::now() + collect_for;
                    if digit == '#' || digits.len() >= 8 {
                        tracing::info!(call_id = %call.call_id, digits = digits.len(), "digits collected");
                        play_back(&cmd, &mut phase, &recorded, &greeting);
                    }
                }
            }
            CallEvent::Audio { samples, .. } => {
                if phase == Phase::Collecting && frames < MAX_RECORD_FRAMES {
                    recorded.extend_from_slice(&samples);
                    frames += 1;
                }
            }
            CallEvent::PlaybackFinished { prompt_id, played_ms, total_ms } | CallEvent::PlaybackStopped { prompt_id, played_ms, total_ms } => {
                tracing::info!(call_id = %call.call_id, %prompt_id, played_ms, total_ms, "playback ended");
                match phase {
                    Phase::Greeting => {
                        phase = Phase::Collecting;
                        deadline = Instant::now() + collect_for;
                    }
                    Phase::PlayingBack => {
                        phase = Phase::Done;
                        cmd.send(CallCommand::Hangup);
                    }
                    _ => {}
                }
            }
            CallEvent::Transfer(outcome) => {
                tracing::info!(call_id = %call.call_id, ?outcome, "transfer result");
                match outcome {
                    TransferOutcome::Completed => {
                        phase = Phase::Done;
                        cmd.send(CallCommand::Hangup);
                    }
                    _ => {
                        phase = Phase::PlayingBack;
                        cmd.send(CallCommand::Play { prompt: greeting.clone(), interruptible: false });
                    }
                }
            }
            CallEvent::Hold(h) => tracing::info!(call_id = %call.call_id, hold = h, "hold"),
            CallEvent::Hangup { by, reason } => {
                tracing::info!(call_id = %call.call_id, ?by, %reason, digits = digits.len(), "call finished");
                return;
            }
        }
    }
}

fn play_back(cmd: &crate::server::CallCommander, phase: &mut Phase, recorded: &[i16], greeting: &Arc<Prompt>) {
    *phase = Phase::PlayingBack;
    let prompt = if recorded.is_empty() { greeting.clone() } else { Prompt::from_pcm("playback", recorded) };
    cmd.send(CallCommand::Play { prompt, interruptible: false });
}
