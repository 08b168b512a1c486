//! The conversation driven with scripted fakes of the recognizer and the playback.

use std::time::Duration;

use chrono::{TimeZone, Utc};

use super::*;
use crate::policy::{TopicAction, TopicInfo};

#[derive(Default)]
struct FakeAsr {
    submitted: Vec<(u64, Duration, Duration)>,
    cancelled: Vec<u64>,
    full: bool,
}

impl Recognize for FakeAsr {
    fn submit(&mut self, id: u64, start: Duration, end: Duration) -> Result<(), Overloaded> {
        if self.full {
            return Err(Overloaded);
        }
        self.submitted.push((id, start, end));
        Ok(())
    }
    fn cancel(&mut self, id: u64) {
        self.cancelled.push(id);
    }
}

#[derive(Default)]
struct FakePlayer {
    played: Vec<(u64, Audio, bool)>,
    stops: Vec<usize>,
}

impl Play for FakePlayer {
    fn play(&mut self, id: u64, audio: &Audio, interruptible: bool) {
        self.played.push((id, audio.clone(), interruptible));
    }
    fn stop(&mut self) {
        self.stops.push(self.played.len());
    }
}

struct Call {
    c: Conversation<FakeAsr, FakePlayer>,
    t: u64,
    actions: Vec<Action>,
}

impl Call {
    fn new() -> Call {
        let mut cfg = DialogueConfig::default();
        cfg.topics.insert("rsa".into(), TopicInfo { action: TopicAction::Answer, complex: false, urgent: false });
        let c = Conversation::new(EndpointingConfig::default(), cfg, FakeAsr::default(), FakePlayer::default());
        let mut call = Call { c, t: 0, actions: Vec::new() };
        let at = Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap();
        let a = call.c.start(Flow::Choix2, at, true, Switches::default(), Duration::ZERO);
        call.actions.extend(a);
        call
    }

    fn now(&self) -> Duration {
        Duration::from_millis(self.t)
    }

    fn frames(&mut self, prob: f32, n: u64) {
        for _ in 0..n {
            self.t += 20;
            let a = self.c.on_frame(prob, self.now());
            self.actions.extend(a);
        }
    }

    /// Finish every playback as played in full.
    fn finish_playbacks(&mut self) {
        loop {
            let Some((id, _, _)) = self.c.player().played.last().cloned() else { return };
            if self.c.playing != Some(id) {
                return;
            }
            let a = self.c.on_playback_finished(id, 1000, 1000, self.now());
            self.actions.extend(a);
        }
    }

    fn last_played(&self) -> Audio {
        self.c.player().played.last().unwrap().1.clone()
    }
}

fn rsa() -> Understanding {
    Understanding { intent: "rsa".into(), score: 0.9, runner_up: None, action: "answer".into() }
}

#[test]
fn speculative_job_becomes_the_final_one() {
    let mut call = Call::new();
    assert_eq!(call.last_played(), Audio::Prompt("greeting_choix2".into()));
    call.finish_playbacks();
    assert_eq!(call.last_played(), Audio::Prompt("ask_question".into()));
    call.frames(0.0, 10);
    call.frames(0.9, 60);
    call.frames(0.0, 10);
    // 200 ms into the silence the recognizer already has the utterance.
    assert_eq!(call.c.recognizer().submitted, vec![(1, Duration::from_millis(200), Duration::from_millis(1400))]);
    call.frames(0.0, 30);
    assert_eq!(call.c.recognizer().submitted.len(), 1, "no second job for the same span");
    let a = call.c.on_recognized(1, "le rsa".into(), rsa(), call.now());
    assert!(a.iter().any(|a| matches!(a, Action::Event(DialogueEvent::Question { intent, .. }) if intent == "rsa")));
    assert_eq!(call.last_played(), Audio::Answer("rsa".into()));
}

#[test]
fn a_slow_recognition_is_announced_once_and_the_answer_cuts_the_notice() {
    let mut call = Call::new();
    call.finish_playbacks();
    call.frames(0.9, 60);
    call.frames(0.0, 40);
    // Speech ended at 1.2 s: the notice is due 3.5 s later, not before.
    let due = Duration::from_millis(1200) + SLOW_RECOGNITION;
    assert_eq!(call.c.poll_timeout().map(|t| t.min(due)), Some(due));
    let a = call.c.tick(due - Duration::from_millis(20));
    call.actions.extend(a);
    assert_ne!(call.last_played(), Audio::Prompt("wait_moment".into()));
    let a = call.c.tick(due);
    call.actions.extend(a);
    assert_eq!(call.last_played(), Audio::Prompt("wait_moment".into()));
    let a = call.c.tick(due + Duration::from_secs(1));
    call.actions.extend(a);
    let notices = call.c.player().played.iter().filter(|p| p.1 == Audio::Prompt("wait_moment".into())).count();
    assert_eq!(notices, 1, "said once per question");
    // The result arrives while the notice plays: the answer replaces it.
    let (id, _, _) = *call.c.recognizer().submitted.last().unwrap();
    let stops = call.c.player().stops.len();
    call.c.on_recognized(id, "le rsa".into(), rsa(), due + Duration::from_secs(1));
    assert_eq!(call.last_played(), Audio::Answer("rsa".into()));
    assert!(call.c.player().stops.len() > stops || call.c.player().played.len() >= 2);
}

#[test]
fn a_fast_recognition_says_nothing_but_the_answer() {
    let mut call = Call::new();
    call.finish_playbacks();
    call.frames(0.9, 60);
    call.frames(0.0, 40);
    let (id, _, _) = *call.c.recognizer().submitted.last().unwrap();
    call.c.on_recognized(id, "le rsa".into(), rsa(), call.now());
    let a = call.c.tick(Duration::from_secs(10));
    call.actions.extend(a);
    assert!(!call.c.player().played.iter().any(|p| p.1 == Audio::Prompt("wait_moment".into())));
}

#[test]
fn the_notice_can_be_turned_off() {
    let mut call = Call::new();
    call.c.set_slow_after(None);
    call.finish_playbacks();
    call.frames(0.9, 60);
    call.frames(0.0, 40);
    let a = call.c.tick(Duration::from_secs(6));
    call.actions.extend(a);
    assert!(!call.c.player().played.iter().any(|p| p.1 == Audio::Prompt("wait_moment".into())));
}

#[test]
fn resumed_speech_cancels_the_speculative_job() {
    let mut call = Call::new();
    call.finish_playbacks();
    call.frames(0.9, 30);
    call.frames(0.0, 12);
    call.frames(0.9, 30);
    call.frames(0.0, 40);
    let asr = call.c.recognizer();
    assert!(asr.cancelled.contains(&1));
    let (last_id, start, end) = *asr.submitted.last().unwrap();
    assert_eq!((start, end), (Duration::ZERO, Duration::from_millis(1440)));
    // A late result of the cancelled job is ignored.
    assert!(call.c.on_recognized(1, "le".into(), Understanding::none(), call.now()).is_empty());
    call.c.on_recognized(last_id, "le rsa".into(), rsa(), call.now());
    assert_eq!(call.last_played(), Audio::Answer("rsa".into()));
}

#[test]
fn barge_in_stops_playback_within_200_ms_and_ignores_a_cough() {
    let mut call = Call::new();
    call.finish_playbacks();
    call.frames(0.9, 60);
    call.frames(0.0, 40);
    let id = call.c.recognizer().submitted.last().unwrap().0;
    call.c.on_recognized(id, "rsa".into(), rsa(), call.now());
    assert_eq!(call.last_played(), Audio::Answer("rsa".into()));
    // A 120 ms cough over the answer does not stop it.
    call.frames(0.95, 6);
    call.frames(0.0, 40);
    assert!(call.c.player().stops.is_empty());
    let onset = call.t;
    for _ in 0..30 {
        call.frames(0.9, 1);
        if !call.c.player().stops.is_empty() {
            break;
        }
    }
    assert!(!call.c.player().stops.is_empty(), "speech stops the prompt");
    assert!(call.t - onset <= 200, "stopped {} ms after onset", call.t - onset);
    assert!(call.actions.iter().any(|a| matches!(a, Action::Event(DialogueEvent::BargeIn { .. }))));
    // The caller's words after the barge-in are recognized as an answer to "another question?".
    call.frames(0.9, 20);
    call.frames(0.0, 30);
    let (id, start, _) = *call.c.recognizer().submitted.last().unwrap();
    assert_eq!(start, Duration::from_millis(onset));
    call.c.on_recognized(id, "répétez".into(), Understanding::none(), call.now());
    assert_eq!(call.last_played(), Audio::Answer("rsa".into()));
}

#[test]
fn full_recognizer_falls_back_to_the_keypad() {
    let mut call = Call::new();
    call.finish_playbacks();
    call.c.recognizer.full = true;
    call.frames(0.9, 60);
    call.frames(0.0, 40);
    assert_eq!(call.last_played(), Audio::Prompt("keypad_menu".into()));
}

#[test]
fn a_key_cancels_recognition_in_flight() {
    let mut call = Call::new();
    call.finish_playbacks();
    call.frames(0.9, 30);
    call.frames(0.0, 40);
    let id = call.c.recognizer().submitted.last().unwrap().0;
    call.c.on_dtmf('0', call.now());
    assert!(call.c.recognizer().cancelled.contains(&id));
    assert!(call.c.on_recognized(id, "rsa".into(), rsa(), call.now()).is_empty());
    call.finish_playbacks();
    assert!(call.actions.iter().any(|a| matches!(a, Action::Transfer(_))));
}

/// A call whose caller asked for the `kind` procedure and hears its prompt to the end.
fn in_procedure(kind: crate::policy::ProcedureKind) -> Call {
    let mut cfg = DialogueConfig::default();
    cfg.topics.insert("procedure".into(), TopicInfo { action: TopicAction::Procedure(kind), complex: false, urgent: false });
    let c = Conversation::new(EndpointingConfig::default(), cfg, FakeAsr::default(), FakePlayer::default());
    let mut call = Call { c, t: 0, actions: Vec::new() };
    let at = Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap();
    call.c.start(Flow::Choix2, at, true, Switches::default(), Duration::ZERO);
    call.finish_playbacks();
    let procedure = Understanding { intent: "procedure".into(), score: 0.9, runner_up: None, action: "procedure".into() };
    call.frames(0.9, 60);
    call.frames(0.0, 40);
    let job = call.c.recognizer().submitted.last().unwrap().0;
    call.c.on_recognized(job, "je voudrais faire la démarche".into(), procedure, call.now());
    call.finish_playbacks();
    call
}

fn procedure_records(call: &Call) -> Vec<crate::policy::ProcedureRecord> {
    call.actions
        .iter()
        .filter_map(|a| match a {
            Action::Event(DialogueEvent::Procedure(r)) => Some(r.clone()),
            _ => None,
        })
        .collect()
}

/// A caller dictating the details of a procedure starts the next piece before the
/// recognizer returned the previous one: the pause that ends the dictation waits for them.
#[test]
fn words_still_coming_hold_the_end_of_a_dictation() {
    let mut call = in_procedure(crate::policy::ProcedureKind::AttestationNonPaiement);
    assert_eq!(call.c.player().played.last().unwrap().1, Audio::Prompt("attestation_collect".into()));
    let none = Understanding::none();
    let last_job = |call: &Call| call.c.recognizer().submitted.last().unwrap().0;
    // The name, then the address begins before the name's result is back.
    call.frames(0.9, 80);
    call.frames(0.0, 40);
    let name = last_job(&call);
    call.frames(0.9, 20);
    let a = call.c.on_recognized(name, "Claire Martin".into(), none.clone(), call.now());
    call.actions.extend(a);
    call.frames(0.9, 200);
    let a = call.c.tick(call.now());
    call.actions.extend(a);
    let procedures = |call: &Call| {
        call.actions
            .iter()
            .filter_map(|a| match a {
                Action::Event(DialogueEvent::Procedure(r)) => Some(r.transcript.clone()),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    assert!(procedures(&call).is_empty(), "ended while the caller was still speaking");
    call.frames(0.0, 40);
    let address = last_job(&call);
    assert_ne!(address, name);
    let a = call.c.on_recognized(address, "8 rue des Tilleuls à Nantes".into(), none, call.now());
    call.actions.extend(a);
    call.t += 3_000;
    let a = call.c.tick(call.now());
    call.actions.extend(a);
    assert_eq!(procedures(&call), vec!["Claire Martin / 8 rue des Tilleuls à Nantes".to_string()]);
}

/// The address ends before the name came back from the recognizer: both are kept.
#[test]
fn a_newer_piece_of_a_dictation_does_not_replace_the_one_being_recognized() {
    let mut call = in_procedure(crate::policy::ProcedureKind::AttestationNonPaiement);
    call.frames(0.9, 80);
    call.frames(0.0, 40);
    let name = call.c.recognizer().submitted.last().unwrap().0;
    call.frames(0.9, 80);
    call.frames(0.0, 40);
    let address = call.c.recognizer().submitted.last().unwrap().0;
    assert!(!call.c.recognizer().cancelled.contains(&name));
    assert_eq!(call.c.poll_timeout(), None, "no timer while pieces are being recognized");
    let a = call.c.on_recognized(name, "Claire Martin".into(), Understanding::none(), call.now());
    call.actions.extend(a);
    let a = call.c.on_recognized(address, "8 rue des Tilleuls".into(), Understanding::none(), call.now());
    call.actions.extend(a);
    call.t += 3_000;
    let a = call.c.tick(call.now());
    call.actions.extend(a);
    let recs = procedure_records(&call);
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0].transcript, "Claire Martin / 8 rue des Tilleuls");
}

/// "Paul Durand" said, then the number keyed at once: the name is not dropped for the keys.
#[test]
fn keys_typed_after_words_wait_for_their_recognition() {
    let mut call = in_procedure(crate::policy::ProcedureKind::Rappel);
    call.frames(0.9, 80);
    call.frames(0.0, 40);
    let name = call.c.recognizer().submitted.last().unwrap().0;
    for d in "0612#".chars() {
        call.t += 300;
        let a = call.c.on_dtmf(d, call.now());
        call.actions.extend(a);
    }
    assert!(procedure_records(&call).is_empty(), "'#' waits for the words before it");
    assert!(!call.c.recognizer().cancelled.contains(&name));
    let a = call.c.on_recognized(name, "Paul Durand".into(), Understanding::none(), call.now());
    call.actions.extend(a);
    let recs = procedure_records(&call);
    assert_eq!(recs.len(), 1);
    assert_eq!((recs[0].transcript.as_str(), recs[0].digits.as_str(), recs[0].complete), ("Paul Durand", "0612", true));
}
