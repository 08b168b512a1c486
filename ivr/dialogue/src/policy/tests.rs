//! Whole-call scenarios driven with a fake clock, no audio.

use std::time::Duration;

use chrono::{TimeZone, Utc};

use super::*;

fn config() -> DialogueConfig {
    let mut cfg = DialogueConfig::default();
    let mut add = |slug: &str, action: TopicAction, complex: bool, urgent: bool| {
        cfg.topics.insert(slug.into(), TopicInfo { action, complex, urgent });
    };
    add("prime-activite", TopicAction::Answer, false, false);
    add("rsa-conditions", TopicAction::Answer, false, false);
    add("separation", TopicAction::Answer, true, false);
    add("aide-urgence-violences", TopicAction::Transfer, false, true);
    add("suivi-dossier", TopicAction::RedirectChoix1, false, false);
    add("attestation", TopicAction::Procedure(ProcedureKind::AttestationNonPaiement), false, false);
    add("rappel", TopicAction::Procedure(ProcedureKind::Rappel), false, false);
    add("reclamation", TopicAction::Transfer, false, false);
    // Two levels, as in prompts/prompts.toml: groups first, then their topics.
    cfg.keypad = vec![('9', "aide-urgence-violences".into())];
    cfg.keypad_groups = vec![
        KeypadGroup { digit: '1', prompt: "keypad_menu_1".into(), options: vec![('1', "prime-activite".into()), ('2', "rsa-conditions".into())] },
        KeypadGroup { digit: '2', prompt: "keypad_menu_2".into(), options: vec![('1', "separation".into()), ('2', "@agent".into())] },
    ];
    // As in prompts/prompts.toml.
    cfg.uninterruptible.insert("crisis".into());
    cfg
}

struct Call {
    d: Dialogue,
    now: Duration,
    /// Every output so far.
    log: Vec<Output>,
    playing: Option<(u64, Audio)>,
}

impl Call {
    fn start(flow: Flow, open: bool, switches: Switches) -> Call {
        Call::start_with(config(), flow, open, switches)
    }

    fn start_with(cfg: DialogueConfig, flow: Flow, open: bool, switches: Switches) -> Call {
        let mut c = Call { d: Dialogue::new(cfg), now: Duration::ZERO, log: Vec::new(), playing: None };
        let at = Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap();
        c.input(Input::CallStarted { flow, at, open, switches, now: c.now });
        c
    }

    fn input(&mut self, i: Input) -> Vec<Output> {
        self.d.handle(i);
        let mut new = Vec::new();
        while let Some(o) = self.d.poll_output() {
            if let Output::Play { id, audio, .. } = &o {
                self.playing = Some((*id, audio.clone()));
            }
            if matches!(o, Output::StopPlayback) {
                self.playing = None;
            }
            new.push(o.clone());
            self.log.push(o);
        }
        new
    }

    /// Let every queued prompt play to its end (1 s each); returns the audio heard.
    fn play_out(&mut self) -> Vec<Audio> {
        let mut heard = Vec::new();
        while let Some((id, audio)) = self.playing.take() {
            self.now += Duration::from_secs(1);
            heard.push(audio);
            self.input(Input::PlaybackFinished { id, played_ms: 1000, total_ms: 1000, now: self.now });
        }
        heard
    }

    fn say(&mut self, text: &str, intent: &str, action: &str, runner_up: Option<&str>) -> Vec<Audio> {
        self.now += Duration::from_secs(2);
        let u = Understanding { intent: intent.into(), score: 0.8, runner_up: runner_up.map(Into::into), action: action.into() };
        self.input(Input::Utterance { text: text.into(), understanding: u, now: self.now });
        self.play_out()
    }

    fn key(&mut self, digit: char) -> Vec<Audio> {
        self.now += Duration::from_millis(500);
        self.input(Input::Dtmf { digit, now: self.now });
        self.play_out()
    }

    fn wait(&mut self, secs: u64) -> Vec<Audio> {
        self.now += Duration::from_secs(secs);
        self.input(Input::Tick { now: self.now });
        self.play_out()
    }

    fn transfer(&self) -> Option<&TransferRequest> {
        self.log.iter().rev().find_map(|o| match o {
            Output::Transfer(t) => Some(t),
            _ => None,
        })
    }

    fn hung_up(&self) -> bool {
        self.log.iter().any(|o| matches!(o, Output::Hangup))
    }

    fn last_listen(&self) -> Option<ListenContext> {
        self.log.iter().rev().find_map(|o| match o {
            Output::Listen { context } => Some(*context),
            _ => None,
        })
    }
}

fn p(id: &str) -> Audio {
    Audio::Prompt(id.into())
}

#[test]
fn greeting_question_answer_then_goodbye() {
    let mut c = Call::start(Flow::Choix3, true, Switches::default());
    // The greeting is the very first output, without waiting for anything.
    assert!(matches!(&c.log[0], Output::Play { audio, .. } if *audio == p("greeting_choix3")));
    assert_eq!(c.play_out(), vec![p("greeting_choix3"), p("ask_question")]);
    assert_eq!(c.last_listen(), Some(ListenContext::OpenQuestion));
    let heard = c.say("c'est quoi la prime d'activité", "prime-activite", "answer", None);
    assert_eq!(heard, vec![Audio::Answer("prime-activite".into()), p("another_question")]);
    // Replies after an answer have pauses and may be new questions: listened to as such.
    assert_eq!(c.last_listen(), Some(ListenContext::OpenQuestion));
    let heard = c.say("non merci au revoir", "@none", "fallback", None);
    assert_eq!(heard, vec![p("goodbye")]);
    assert!(c.hung_up() && c.d.is_ended());
    let played: Vec<_> = c
        .log
        .iter()
        .filter_map(|o| match o {
            Output::Event(DialogueEvent::Played { answer: Some(a), played_ms, total_ms, .. }) => Some((a.clone(), *played_ms, *total_ms)),
            _ => None,
        })
        .collect();
    assert_eq!(played, vec![("prime-activite".to_string(), 1000, 1000)]);
}

#[test]
fn closed_hours_and_switches() {
    let mut c = Call::start(Flow::Choix2, false, Switches::default());
    assert_eq!(c.play_out(), vec![p("closed")]);
    assert!(c.hung_up());
    let mut c = Call::start(Flow::Choix2, true, Switches { saturation: true, crisis: true, closed: false });
    assert_eq!(c.play_out(), vec![p("greeting_choix2"), p("crisis"), p("saturation"), p("ask_question")]);
    let mut c = Call::start(Flow::Choix2, true, Switches { closed: true, ..Switches::default() });
    assert_eq!(c.play_out(), vec![p("closed")]);
}

#[test]
fn a_key_does_not_skip_the_crisis_message_but_0_reaches_an_agent() {
    let crisis = Switches { crisis: true, ..Switches::default() };
    let mut c = Call::start(Flow::Choix2, true, crisis);
    let (id, audio) = c.playing.clone().unwrap();
    assert_eq!(audio, p("greeting_choix2"));
    c.now += Duration::from_secs(1);
    c.input(Input::PlaybackFinished { id, played_ms: 1000, total_ms: 1000, now: c.now });
    assert_eq!(c.playing.as_ref().map(|x| x.1.clone()), Some(p("crisis")));
    let out = c.input(Input::Dtmf { digit: '1', now: c.now });
    assert!(!out.iter().any(|o| matches!(o, Output::StopPlayback)), "{out:?}");
    assert_eq!(c.play_out(), vec![p("crisis"), p("ask_question")]);
    let mut c = Call::start(Flow::Choix2, true, crisis);
    let (id, _) = c.playing.clone().unwrap();
    c.input(Input::PlaybackFinished { id, played_ms: 1000, total_ms: 1000, now: c.now });
    c.input(Input::Dtmf { digit: '0', now: c.now });
    c.play_out();
    assert_eq!(c.transfer().unwrap().reason, TransferReason::Keypad0);
}

#[test]
fn repeat_and_another_question_by_voice_and_keypad() {
    let mut c = Call::start(Flow::Choix2, true, Switches::default());
    c.play_out();
    c.say("prime d'activité", "prime-activite", "answer", None);
    assert_eq!(c.key('1'), vec![Audio::Answer("prime-activite".into()), p("another_question")]);
    assert_eq!(c.say("vous pouvez répéter ?", "@none", "fallback", None)[0], Audio::Answer("prime-activite".into()));
    // Third repeat is refused (loop guard): only the offer again.
    assert_eq!(c.say("répétez", "@none", "fallback", None), vec![p("another_question")]);
    assert_eq!(c.say("oui", "@none", "fallback", None), vec![p("ask_question")]);
    assert_eq!(c.last_listen(), Some(ListenContext::OpenQuestion));
    c.say("le rsa", "rsa-conditions", "answer", None);
    assert_eq!(c.key('2'), vec![p("ask_question")]);
    // A new question straight after an answer is answered without "oui" first.
    c.say("prime d'activité", "prime-activite", "answer", None);
    assert_eq!(c.say("et pour le rsa ?", "rsa-conditions", "answer", None)[0], Audio::Answer("rsa-conditions".into()));
}

#[test]
fn none_reasks_once_then_keypad_menu() {
    let mut c = Call::start(Flow::Choix2, true, Switches::default());
    c.play_out();
    assert_eq!(c.say("euh bonjour", "@none", "fallback", None), vec![p("not_understood")]);
    assert_eq!(c.say("la météo demain", "@none", "fallback", None), vec![p("keypad_menu")]);
    assert_eq!(c.last_listen(), Some(ListenContext::Menu));
    assert_eq!(c.key('1'), vec![p("keypad_menu_1")]);
    assert_eq!(c.key('2'), vec![Audio::Answer("rsa-conditions".into()), p("another_question")]);
}

#[test]
fn silence_reasks_then_keypad_then_agent() {
    let mut c = Call::start(Flow::Choix2, true, Switches::default());
    c.play_out();
    assert_eq!(c.d.poll_timeout(), Some(c.now + Duration::from_secs(7)));
    assert!(c.wait(3).is_empty(), "no re-ask before the no-input time");
    assert_eq!(c.wait(5), vec![p("silence_reask")]);
    assert_eq!(c.wait(8), vec![p("keypad_menu")]);
    assert_eq!(c.wait(8), vec![p("keypad_invalid"), p("keypad_menu")]);
    assert_eq!(c.wait(8), vec![p("keypad_invalid"), p("keypad_menu")]);
    assert_eq!(c.wait(8), vec![p("transfer")]);
    let t = c.transfer().unwrap();
    assert_eq!(t.reason, TransferReason::RepeatedFailure);
    assert_eq!(t.target, "sip:agents-choix2@127.0.0.1");
    assert!(t.path.contains(&"keypad".to_string()));
}

#[test]
fn speaking_holds_the_no_input_timer() {
    let mut c = Call::start(Flow::Choix2, true, Switches::default());
    c.play_out();
    c.now += Duration::from_secs(5);
    c.input(Input::SpeechStarted { now: c.now });
    assert!(c.wait(10).is_empty(), "a slow speaker is not cut off");
    c.input(Input::SpeechDiscarded { now: c.now });
    assert_eq!(c.wait(8), vec![p("silence_reask")]);
}

#[test]
fn agent_request_and_keypad_zero_transfer_with_reason() {
    let mut c = Call::start(Flow::Choix3, true, Switches::default());
    c.play_out();
    c.say("mon mot de passe ne marche pas", "@none", "fallback", None);
    assert_eq!(c.say("je veux un conseiller", "@agent", "transfer", None), vec![p("transfer")]);
    let t = c.transfer().unwrap().clone();
    assert_eq!(t.reason, TransferReason::AgentRequest);
    assert_eq!(t.flow, Flow::Choix3);
    assert_eq!(t.target, "sip:agents-choix3@127.0.0.1");
    assert!(t.transcript.contains("mot de passe") && t.transcript.ends_with("conseiller"));
    c.input(Input::TransferResult { accepted: true, now: c.now });
    assert!(c.d.is_ended());
    assert!(c.log.iter().any(|o| matches!(o, Output::Event(DialogueEvent::Ended { reason: EndReason::Transferred }))));

    let mut c = Call::start(Flow::Choix2, true, Switches::default());
    // DTMF interrupts the greeting.
    let out = c.input(Input::Dtmf { digit: '0', now: Duration::from_millis(300) });
    assert_eq!(out[1], Output::StopPlayback);
    c.play_out();
    assert_eq!(c.transfer().unwrap().reason, TransferReason::Keypad0);
}

#[test]
fn failed_transfer_offers_another_question_then_gives_up() {
    let mut c = Call::start(Flow::Choix2, true, Switches::default());
    c.play_out();
    c.say("un conseiller", "@agent", "transfer", None);
    c.input(Input::TransferResult { accepted: false, now: c.now });
    assert_eq!(c.play_out(), vec![p("transfer_failed"), p("another_question")]);
    c.say("un humain s'il vous plaît", "@agent", "transfer", None);
    c.input(Input::TransferResult { accepted: false, now: c.now });
    assert_eq!(c.play_out(), vec![p("transfer_failed"), p("goodbye")]);
    assert!(c.hung_up());
}

#[test]
fn violence_plays_uninterruptible_safety_message_then_transfers() {
    let mut c = Call::start(Flow::Choix2, true, Switches::default());
    c.play_out();
    c.now += Duration::from_secs(2);
    let u = Understanding { intent: "aide-urgence-violences".into(), score: 0.9, runner_up: None, action: "transfer".into() };
    let out = c.input(Input::Utterance { text: "mon conjoint me frappe".into(), understanding: u, now: c.now });
    assert!(out.contains(&Output::Play { id: 3, audio: p("urgent_safety"), interruptible: false }), "{out:?}");
    // Neither speech nor keys cut it.
    c.input(Input::BargeIn { now: c.now });
    c.input(Input::Dtmf { digit: '5', now: c.now });
    assert!(c.playing.is_some());
    assert_eq!(c.play_out(), vec![p("urgent_safety"), p("transfer")]);
    let t = c.transfer().unwrap();
    assert_eq!((t.reason, t.topic.as_deref()), (TransferReason::Urgent, Some("aide-urgence-violences")));
}

#[test]
fn barge_in_stops_the_prompt_and_records_what_was_heard() {
    let mut c = Call::start(Flow::Choix2, true, Switches::default());
    c.play_out();
    c.now += Duration::from_secs(2);
    let u = Understanding { intent: "prime-activite".into(), score: 0.8, runner_up: None, action: "answer".into() };
    c.input(Input::Utterance { text: "prime d'activité".into(), understanding: u, now: c.now });
    let (id, audio) = c.playing.clone().unwrap();
    assert_eq!(audio, Audio::Answer("prime-activite".into()));
    let out = c.input(Input::BargeIn { now: c.now + Duration::from_millis(4000) });
    assert!(out.contains(&Output::StopPlayback));
    assert!(out.contains(&Output::Listen { context: ListenContext::OpenQuestion }));
    c.input(Input::PlaybackFinished { id, played_ms: 4000, total_ms: 30000, now: c.now });
    assert!(c.log.iter().any(|o| *o
        == Output::Event(DialogueEvent::Played {
            key: "answer/prime-activite".into(),
            answer: Some("prime-activite".into()),
            played_ms: 4000,
            total_ms: 30000
        })));
    assert!(c.log.iter().any(|o| matches!(o, Output::Event(DialogueEvent::BargeIn { .. }))));
    // The late report started nothing: the bot listens for the caller's words.
    assert!(c.playing.is_none());
    assert_eq!(c.say("répétez", "@none", "fallback", None)[0], Audio::Answer("prime-activite".into()));
}

#[test]
fn clarify_between_two_topics_by_voice_or_key() {
    let mut c = Call::start(Flow::Choix2, true, Switches::default());
    c.play_out();
    let heard = c.say("le rsa ou la prime", "rsa-conditions", "clarify", Some("prime-activite"));
    assert_eq!(
        heard,
        vec![
            Audio::PromptPart("clarify".into(), 0),
            Audio::Title("rsa-conditions".into()),
            Audio::PromptPart("clarify".into(), 1),
            Audio::Title("prime-activite".into()),
            Audio::PromptPart("clarify".into(), 2),
        ]
    );
    assert_eq!(c.say("la deuxième", "@none", "fallback", None)[0], Audio::Answer("prime-activite".into()));
    c.key('2');
    c.say("rsa ou prime", "rsa-conditions", "clarify", Some("prime-activite"));
    assert_eq!(c.key('1')[0], Audio::Answer("rsa-conditions".into()));
}

#[test]
fn a_half_heard_question_is_offered_by_the_clarify_question_never_answered() {
    // A transcript whose words were half lost ("confirm"): the two topics are offered.
    let mut c = Call::start(Flow::Choix2, true, Switches::default());
    c.play_out();
    let heard = c.say("j'ai plus de résumé je peux toucher le ressort", "rsa-conditions", "confirm", Some("prime-activite"));
    assert_eq!(heard[0], Audio::PromptPart("clarify".into(), 0));
    assert_eq!(heard[1], Audio::Title("rsa-conditions".into()));
    assert_eq!(c.key('1')[0], Audio::Answer("rsa-conditions".into()));
    // Nothing to offer beside it: not understood, not the answer.
    let mut c = Call::start(Flow::Choix2, true, Switches::default());
    c.play_out();
    assert_eq!(c.say("le ressort", "rsa-conditions", "confirm", None), vec![p("not_understood")]);
    // The same topic as runner-up is no second choice either.
    assert_eq!(c.say("le ressort", "rsa-conditions", "confirm", Some("rsa-conditions")), vec![p("keypad_menu")]);
}

#[test]
fn silence_at_the_clarify_question_offers_the_choice_again_then_the_keypad() {
    let mut c = Call::start(Flow::Choix2, true, Switches::default());
    c.play_out();
    c.say("le rsa ou la prime", "rsa-conditions", "clarify", Some("prime-activite"));
    let again = c.wait(8);
    assert_eq!(again[0], Audio::PromptPart("clarify".into(), 0));
    assert_eq!(again[1], Audio::Title("rsa-conditions".into()));
    assert_eq!(c.key('2')[0], Audio::Answer("prime-activite".into()));
    let mut c = Call::start(Flow::Choix2, true, Switches::default());
    c.play_out();
    c.say("le rsa ou la prime", "rsa-conditions", "clarify", Some("prime-activite"));
    c.wait(8);
    assert_eq!(c.wait(8), vec![p("keypad_menu")]);
}

#[test]
fn misheard_clarify_reply_asks_the_choice_again_once() {
    let mut c = Call::start(Flow::Choix2, true, Switches::default());
    c.play_out();
    c.say("le rsa ou la prime", "rsa-conditions", "clarify", Some("prime-activite"));
    let again = c.say("l'udujan", "@none", "fallback", None);
    assert_eq!(again[0], Audio::PromptPart("clarify".into(), 0));
    assert_eq!(again[3], Audio::Title("prime-activite".into()));
    assert_eq!(c.say("je prends le deuxième", "@none", "fallback", None)[0], Audio::Answer("prime-activite".into()));
    // Misheard twice: the keypad menu, as after any second miss, not a loop.
    c.key('2');
    c.say("le rsa ou la prime", "rsa-conditions", "clarify", Some("prime-activite"));
    assert_eq!(c.say("euh", "@none", "fallback", None)[0], Audio::PromptPart("clarify".into(), 0));
    assert_eq!(c.say("hum", "@none", "fallback", None), vec![p("keypad_menu")]);
}

#[test]
fn complex_topic_promotes_an_appointment_and_redirect_choix1() {
    let mut c = Call::start(Flow::Choix2, true, Switches::default());
    c.play_out();
    assert_eq!(c.say("on se sépare", "separation", "answer", None), vec![Audio::Answer("separation".into()), p("appointment"), p("another_question")]);
    assert_eq!(c.say("où en est mon dossier", "suivi-dossier", "redirect-choix1", None), vec![p("redirect_choix1"), p("another_question")]);
}

#[test]
fn attestation_procedure_records_speech_and_digits() {
    let mut c = Call::start(Flow::Choix2, true, Switches::default());
    c.play_out();
    assert_eq!(c.say("il me faut une attestation de non paiement", "attestation", "procedure", None), vec![p("attestation_collect")]);
    for d in "75011".chars() {
        assert!(c.key(d).is_empty(), "digits are collected silently");
    }
    assert!(c.say("Jean Dupont 12 rue de la Paix Paris", "@none", "fallback", None).is_empty(), "the caller may go on");
    assert_eq!(c.wait(3), vec![p("attestation_done"), p("another_question")]);
    let rec = c
        .log
        .iter()
        .find_map(|o| match o {
            Output::Event(DialogueEvent::Procedure(r)) => Some(r.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(rec.kind, ProcedureKind::AttestationNonPaiement);
    assert_eq!(rec.digits, "75011");
    assert!(rec.transcript.contains("Dupont") && rec.complete);
    assert_eq!(rec.topic.as_deref(), Some("attestation"), "the topic that led to the procedure, not the dictation's");
}

#[test]
fn procedure_takes_details_dictated_in_pieces() {
    let mut c = Call::start(Flow::Choix2, true, Switches::default());
    c.play_out();
    c.say("il me faut une attestation de non paiement", "attestation", "procedure", None);
    // Name, then a pause shorter than the dictation pause, then the address.
    assert!(c.say("Claire Martin née le 12 mai 1990", "@none", "fallback", None).is_empty());
    assert!(c.wait(1).is_empty(), "a short pause does not end the dictation");
    assert!(c.say("8 rue des Tilleuls à Nantes", "@none", "fallback", None).is_empty());
    assert_eq!(c.wait(3), vec![p("attestation_done"), p("another_question")]);
    let recs: Vec<_> = c
        .log
        .iter()
        .filter_map(|o| match o {
            Output::Event(DialogueEvent::Procedure(r)) => Some(r.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0].transcript, "Claire Martin née le 12 mai 1990 / 8 rue des Tilleuls à Nantes");
    assert!(recs[0].complete);
    // The end of the dictation is no silence: a later silence is re-asked, not the menu.
    c.key('2');
    assert_eq!(c.wait(8), vec![p("silence_reask")]);
}

#[test]
fn callback_number_keyed_after_the_spoken_request() {
    let mut c = Call::start(Flow::Choix2, true, Switches::default());
    c.play_out();
    assert_eq!(c.say("je veux être rappelé", "rappel", "procedure", None), vec![p("callback_collect")]);
    assert!(c.say("Paul Durand pour ma demande de logement", "@none", "fallback", None).is_empty());
    for d in "0612345678".chars() {
        assert!(c.key(d).is_empty());
    }
    assert_eq!(c.key('#'), vec![p("callback_done"), p("another_question")]);
    let rec = c
        .log
        .iter()
        .find_map(|o| match o {
            Output::Event(DialogueEvent::Procedure(r)) => Some(r.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!((rec.kind, rec.digits.as_str(), rec.complete), (ProcedureKind::Rappel, "0612345678", true));
    assert!(rec.transcript.contains("Durand"));
}

#[test]
fn callback_request_by_voice_starts_the_callback_procedure() {
    let mut c = Call::start(Flow::Choix2, true, Switches::default());
    c.play_out();
    // The matcher has no topic for it and hears a conseiller: still a call back, not a transfer.
    assert_eq!(c.say("je voudrais qu'un conseiller me rappelle", "@agent", "transfer", None), vec![p("callback_collect")]);
    assert!(c.say("Paul Durand pour mon aide au logement", "@none", "fallback", None).is_empty());
    assert_eq!(c.wait(3), vec![p("callback_done"), p("another_question")]);
    assert!(c.transfer().is_none());
    let rec = c
        .log
        .iter()
        .find_map(|o| match o {
            Output::Event(DialogueEvent::Procedure(r)) => Some(r.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!((rec.kind, rec.complete), (ProcedureKind::Rappel, true));
    // After an answer too; a question that only uses the word stays a question.
    assert_eq!(c.say("rappelez-moi plutôt", "@none", "fallback", None), vec![p("callback_collect")]);
    c.key('*');
    let heard = c.say("pouvez-vous me rappeler le montant de la prime d'activité", "prime-activite", "answer", None);
    assert_eq!(heard[0], Audio::Answer("prime-activite".into()));
}

#[test]
fn an_unambiguous_call_back_wording_wins_over_the_topic_the_matcher_saw() {
    // "rappeler" also means "remember", so the matcher may hear a topic in a call-back
    // request ("je voudrais être rappelé" came out as the forgotten-password topic).
    let mut c = Call::start(Flow::Choix2, true, Switches::default());
    c.play_out();
    assert_eq!(c.say("je voudrais être rappelé par la caf", "prime-activite", "answer", None), vec![p("callback_collect")]);
    // "Remember" stays a question for its topic.
    let mut c = Call::start(Flow::Choix2, true, Switches::default());
    c.play_out();
    let heard = c.say("je ne me rappelle plus du montant de ma prime d'activité", "prime-activite", "answer", None);
    assert_eq!(heard[0], Audio::Answer("prime-activite".into()));
}

#[test]
fn keyed_number_is_not_counted_as_turns() {
    let mut c = Call::start(Flow::Choix2, true, Switches::default());
    c.play_out();
    c.say("je veux être rappelé", "rappel", "procedure", None);
    for d in "0612345678".chars() {
        c.key(d);
    }
    assert_eq!(c.key('#'), vec![p("callback_done"), p("another_question")]);
    // A few more questions fit in the call: the ten digits did not use its turns up.
    for _ in 0..4 {
        c.key('2');
        let heard = c.say("et la prime d'activité", "prime-activite", "answer", None);
        assert_eq!(heard[0], Audio::Answer("prime-activite".into()));
    }
    assert!(c.transfer().is_none(), "{:?}", c.d.path());
}

#[test]
fn callback_procedure_with_silence_ends_with_an_agent() {
    let mut c = Call::start(Flow::Choix2, true, Switches::default());
    c.play_out();
    c.say("je veux être rappelé", "rappel", "procedure", None);
    assert_eq!(c.wait(8), vec![p("silence_reask")]);
    assert_eq!(c.wait(8), vec![p("transfer")]);
    assert_eq!(c.transfer().unwrap().reason, TransferReason::ProcedureIncomplete);
    assert!(c.log.iter().any(|o| matches!(o, Output::Event(DialogueEvent::Procedure(r)) if !r.complete)));
}

#[test]
fn overload_says_wait_then_falls_back_to_keypad() {
    let mut c = Call::start(Flow::Choix2, true, Switches::default());
    c.play_out();
    c.input(Input::AsrOverloaded { dropped: false, now: c.now });
    assert_eq!(c.play_out(), vec![p("wait_moment")]);
    // The late result is still taken.
    assert_eq!(c.say("prime d'activité", "prime-activite", "answer", None)[0], Audio::Answer("prime-activite".into()));
    c.key('2');
    c.input(Input::AsrOverloaded { dropped: true, now: c.now });
    assert_eq!(c.play_out(), vec![p("keypad_menu")]);
}

#[test]
fn loop_guards_bound_every_call() {
    // A caller who keeps asking gets at most max_answers answers, then goodbye.
    let mut c = Call::start(Flow::Choix2, true, Switches::default());
    c.play_out();
    for _ in 0..4 {
        c.say("prime", "prime-activite", "answer", None);
    }
    let last = c.say("prime", "prime-activite", "answer", None);
    assert_eq!(last, vec![Audio::Answer("prime-activite".into()), p("goodbye")]);
    assert!(c.hung_up());

    // Endless repeats/hints end with an agent after max_turns.
    let mut c = Call::start(Flow::Choix2, true, Switches::default());
    c.play_out();
    c.say("prime", "prime-activite", "answer", None);
    let mut rounds = 0;
    while c.transfer().is_none() && rounds < 100 {
        c.key('1');
        rounds += 1;
    }
    assert!(rounds <= 14, "{rounds}");
    assert_eq!(c.transfer().unwrap().reason, TransferReason::TooLong);

    // Past the call cap, the bot closes at the next listening tick.
    let mut c = Call::start(Flow::Choix2, true, Switches::default());
    c.play_out();
    c.now = Duration::from_secs(8 * 60);
    c.input(Input::SpeechStarted { now: c.now });
    c.input(Input::SpeechDiscarded { now: c.now });
    assert_eq!(c.wait(1), vec![p("goodbye")]);
}

#[test]
fn hangup_ends_and_late_reports_are_still_recorded() {
    let mut c = Call::start(Flow::Choix2, true, Switches::default());
    let (id, _) = c.playing.clone().unwrap();
    c.input(Input::Hangup { now: Duration::from_millis(800) });
    c.input(Input::PlaybackFinished { id, played_ms: 800, total_ms: 3000, now: Duration::from_millis(800) });
    assert!(c.d.is_ended());
    assert!(c.log.iter().any(|o| matches!(o, Output::Event(DialogueEvent::Played { played_ms: 800, .. }))));
    assert!(!c.log.iter().any(|o| matches!(o, Output::Play { audio, .. } if *audio == p("ask_question"))));
    assert_eq!(c.d.poll_timeout(), None);
}

// ---- replies read in the context of the bot's question ---------------------------------

fn procedures(c: &Call) -> Vec<ProcedureRecord> {
    c.log
        .iter()
        .filter_map(|o| match o {
            Output::Event(DialogueEvent::Procedure(r)) => Some(r.clone()),
            _ => None,
        })
        .collect()
}

fn played(c: &Call, audio: &Audio) -> bool {
    c.log.iter().any(|o| matches!(o, Output::Play { audio: a, .. } if a == audio))
}

/// The matcher, before its own fix, heard the attestation de non-paiement in every "non".
fn misread(c: &mut Call, text: &str) -> Vec<Audio> {
    c.now += Duration::from_secs(2);
    let u = Understanding { intent: "attestation".into(), score: 1.11, runner_up: None, action: "procedure".into() };
    c.input(Input::Utterance { text: text.into(), understanding: u, now: c.now });
    c.play_out()
}

const DECLINES: &[&str] = &[
    "non",
    "Non.",
    "non merci",
    "Non merci, c'est tout.",
    "c'est bon merci",
    "merci au revoir",
    "Ça ira, merci.",
    "Non non, c'est bon.",
    "au revoir",
    "Non, c'est tout ce que je voulais savoir, merci.",
    "Euh non, ça va aller, merci madame.",
    "Non merci, pas besoin d'un conseiller.",
];

#[test]
fn declining_after_an_answer_says_goodbye_whatever_the_matcher_saw() {
    for said in DECLINES {
        let mut c = Call::start(Flow::Choix2, true, Switches::default());
        c.play_out();
        c.say("c'est quoi la prime d'activité", "prime-activite", "answer", None);
        assert_eq!(misread(&mut c, said), vec![p("goodbye")], "{said}");
        assert!(c.hung_up() && c.d.is_ended(), "{said}");
        assert!(c.transfer().is_none(), "{said}: {:?}", c.d.path());
        assert!(procedures(&c).is_empty() && !played(&c, &p("attestation_collect")), "{said}: {:?}", c.d.path());
        assert!(c.log.iter().any(|o| matches!(o, Output::Event(DialogueEvent::Ended { reason: EndReason::BotHungUp }))));
        // The same words, with the matcher finding nothing, close the call the same way.
        let mut c = Call::start(Flow::Choix2, true, Switches::default());
        c.play_out();
        c.say("c'est quoi la prime d'activité", "prime-activite", "answer", None);
        assert_eq!(c.say(said, "@none", "fallback", None), vec![p("goodbye")], "{said}");
    }
}

#[test]
fn a_new_question_that_starts_with_non_is_answered() {
    let mut c = Call::start(Flow::Choix2, true, Switches::default());
    c.play_out();
    c.say("c'est quoi la prime d'activité", "prime-activite", "answer", None);
    let heard = c.say("non je voudrais savoir pour le RSA", "rsa-conditions", "answer", None);
    assert_eq!(heard, vec![Audio::Answer("rsa-conditions".into()), p("another_question")]);
    let heard = c.say("non je voudrais savoir pour la prime d'activité", "prime-activite", "answer", None);
    assert_eq!(heard[0], Audio::Answer("prime-activite".into()));
    // "quelqu'un", "une personne": words of a question, not a request for an agent.
    let heard = c.say("quelqu'un m'a dit que le RSA était plus élevé", "rsa-conditions", "answer", None);
    assert_eq!(heard[0], Audio::Answer("rsa-conditions".into()));
    assert!(c.transfer().is_none() && !c.hung_up(), "{:?}", c.d.path());
    // "un" and "deux" said after an answer are its keys: repeat, another question.
    assert_eq!(c.say("un", "@none", "fallback", None)[0], Audio::Answer("rsa-conditions".into()));
    assert_eq!(c.say("deux", "@none", "fallback", None), vec![p("ask_question")]);
}

#[test]
fn declining_after_a_procedure_a_redirect_or_a_failed_transfer_says_goodbye() {
    // After the attestation request is confirmed.
    let mut c = Call::start(Flow::Choix2, true, Switches::default());
    c.play_out();
    c.say("il me faut une attestation de non paiement", "attestation", "procedure", None);
    c.say("Claire Martin 8 rue des Tilleuls Nantes", "@none", "fallback", None);
    assert_eq!(c.wait(3), vec![p("attestation_done"), p("another_question")]);
    assert_eq!(misread(&mut c, "non merci c'est tout"), vec![p("goodbye")]);
    assert_eq!(procedures(&c).len(), 1, "the one request, not a second one");
    // After the redirect to choix 1.
    let mut c = Call::start(Flow::Choix2, true, Switches::default());
    c.play_out();
    c.say("où en est mon dossier", "suivi-dossier", "redirect-choix1", None);
    assert_eq!(misread(&mut c, "d'accord merci au revoir"), vec![p("goodbye")]);
    // After a failed transfer.
    let mut c = Call::start(Flow::Choix2, true, Switches::default());
    c.play_out();
    c.say("un conseiller", "@agent", "transfer", None);
    c.input(Input::TransferResult { accepted: false, now: c.now });
    c.play_out();
    assert_eq!(misread(&mut c, "non ça ira"), vec![p("goodbye")]);
    assert!(c.hung_up() && procedures(&c).is_empty());
}

#[test]
fn replies_at_the_first_question_and_at_the_keypad_menu() {
    let mut c = Call::start(Flow::Choix2, true, Switches::default());
    c.play_out();
    assert_eq!(misread(&mut c, "non merci au revoir"), vec![p("goodbye")]);
    assert!(procedures(&c).is_empty() && !played(&c, &p("attestation_collect")));
    // "oui" or "répétez" to "what is your question?" asks it again.
    let mut c = Call::start(Flow::Choix2, true, Switches::default());
    c.play_out();
    assert_eq!(c.say("oui", "@none", "fallback", None), vec![p("ask_question")]);
    // At the keypad menu: a number said aloud is its key, goodbye ends the call.
    let mut c = Call::start(Flow::Choix2, true, Switches::default());
    c.play_out();
    c.input(Input::AsrOverloaded { dropped: true, now: c.now });
    assert_eq!(c.play_out(), vec![p("keypad_menu")]);
    assert_eq!(c.say("un", "@none", "fallback", None), vec![p("keypad_menu_1")]);
    assert_eq!(c.say("répétez", "@none", "fallback", None), vec![p("keypad_menu_1")]);
    assert_eq!(misread(&mut c, "merci au revoir"), vec![p("goodbye")]);
    assert!(c.transfer().is_none() && procedures(&c).is_empty());
}

#[test]
fn replies_to_the_clarify_question() {
    let start = || {
        let mut c = Call::start(Flow::Choix2, true, Switches::default());
        c.play_out();
        c.say("le rsa ou la prime", "rsa-conditions", "clarify", Some("prime-activite"));
        c
    };
    // A choice wins over the topic the matcher saw in it.
    let mut c = start();
    assert_eq!(misread(&mut c, "non, le deuxième")[0], Audio::Answer("prime-activite".into()));
    // Neither: the question again, in the caller's own words.
    for said in ["non", "aucun des deux", "ni l'un ni l'autre"] {
        let mut c = start();
        assert_eq!(misread(&mut c, said), vec![p("ask_question")], "{said}");
        assert_eq!(c.last_listen(), Some(ListenContext::OpenQuestion));
        assert!(procedures(&c).is_empty() && c.transfer().is_none());
        // The new wording is answered, not clarified a second time.
        let heard = c.say("la prime d'activité", "prime-activite", "clarify", Some("rsa-conditions"));
        assert_eq!(heard[0], Audio::Answer("prime-activite".into()));
    }
    let mut c = start();
    assert_eq!(misread(&mut c, "merci au revoir"), vec![p("goodbye")]);
    let mut c = start();
    assert_eq!(c.say("pouvez-vous répéter", "@none", "fallback", None)[1], Audio::Title("rsa-conditions".into()));
    let mut c = start();
    c.say("un conseiller s'il vous plaît", "@agent", "transfer", None);
    assert_eq!(c.transfer().unwrap().reason, TransferReason::AgentRequest);
}

#[test]
fn replies_during_a_procedure_step() {
    let start = || {
        let mut c = Call::start(Flow::Choix2, true, Switches::default());
        c.play_out();
        assert_eq!(c.say("il me faut une attestation", "attestation", "procedure", None), vec![p("attestation_collect")]);
        c
    };
    // Before any detail: "non merci" cancels and closes, "non" cancels and asks again.
    let mut c = start();
    assert_eq!(misread(&mut c, "non merci c'est bon"), vec![p("goodbye")]);
    assert!(procedures(&c).is_empty() && c.transfer().is_none() && c.hung_up());
    let mut c = start();
    assert_eq!(misread(&mut c, "non"), vec![p("ask_question")]);
    assert!(procedures(&c).is_empty() && !c.d.is_collecting());
    // "oui" is an agreement, not a detail; "répétez" says the step again.
    let mut c = start();
    assert!(c.say("oui d'accord", "@none", "fallback", None).is_empty());
    assert_eq!(c.say("répétez", "@none", "fallback", None), vec![p("attestation_collect")]);
    c.say("Claire Martin 8 rue des Tilleuls Nantes", "@none", "fallback", None);
    // Details given, then goodbye: the request is kept and confirmed before the end.
    assert_eq!(c.say("merci au revoir", "@none", "fallback", None), vec![p("attestation_done"), p("goodbye")]);
    let recs = procedures(&c);
    assert_eq!(recs.len(), 1);
    assert!(recs[0].complete && recs[0].transcript == "Claire Martin 8 rue des Tilleuls Nantes", "{recs:?}");
    assert!(c.hung_up() && c.transfer().is_none());
    // An agent asked for after some details: what was said goes with the request.
    let mut c = start();
    c.say("Claire Martin", "@none", "fallback", None);
    c.say("je veux parler à un conseiller", "@agent", "transfer", None);
    assert_eq!(c.transfer().unwrap().reason, TransferReason::AgentRequest);
    let recs = procedures(&c);
    assert!(recs.len() == 1 && !recs[0].complete && recs[0].transcript == "Claire Martin", "{recs:?}");
}

// ---- safety path, keypad levels, short answer and follow-up -----------------------------

#[test]
fn a_failed_transfer_on_the_violence_path_repeats_the_emergency_numbers() {
    let mut c = Call::start(Flow::Choix2, true, Switches::default());
    c.play_out();
    c.say("mon conjoint me frappe", "aide-urgence-violences", "transfer", None);
    assert_eq!(c.transfer().unwrap().reason, TransferReason::Urgent);
    let out = c.input(Input::TransferResult { accepted: false, now: c.now });
    assert!(out.iter().any(|o| matches!(o, Output::Play { audio, interruptible: false, .. } if *audio == p("transfer_failed_safety"))), "{out:?}");
    // Not cut by the caller's voice.
    c.input(Input::BargeIn { now: c.now });
    assert_eq!(c.play_out(), vec![p("transfer_failed_safety"), p("another_question")]);
    assert!(!played(&c, &p("transfer_failed")));
    // "répéter" says the numbers again.
    assert_eq!(c.say("répétez", "@none", "fallback", None), vec![p("transfer_failed_safety"), p("another_question")]);
    // A second failure, whatever was asked, ends with them too.
    c.say("un conseiller", "@agent", "transfer", None);
    c.input(Input::TransferResult { accepted: false, now: c.now });
    assert_eq!(c.play_out(), vec![p("transfer_failed_safety"), p("goodbye")]);
    assert!(c.hung_up());
    // The violence topic chosen on the keypad takes the same path.
    let mut c = Call::start(Flow::Choix2, true, Switches::default());
    c.play_out();
    c.input(Input::AsrOverloaded { dropped: true, now: c.now });
    c.play_out();
    assert_eq!(c.key('9'), vec![p("urgent_safety"), p("transfer")]);
    c.input(Input::TransferResult { accepted: false, now: c.now });
    assert_eq!(c.play_out()[0], p("transfer_failed_safety"));
}

#[test]
fn keypad_menu_in_two_levels() {
    let mut c = Call::start(Flow::Choix2, true, Switches::default());
    c.play_out();
    c.input(Input::AsrOverloaded { dropped: true, now: c.now });
    assert_eq!(c.play_out(), vec![p("keypad_menu")]);
    // A group, back with '*', another group, a topic of it.
    assert_eq!(c.key('1'), vec![p("keypad_menu_1")]);
    assert_eq!(c.last_listen(), Some(ListenContext::Menu));
    assert_eq!(c.key('*'), vec![p("keypad_menu")]);
    assert_eq!(c.key('*'), vec![p("keypad_menu")], "'*' on the first level says it again");
    assert_eq!(c.key('2'), vec![p("keypad_menu_2")]);
    assert_eq!(c.key('1'), vec![Audio::Answer("separation".into()), p("appointment"), p("another_question")]);
    assert!(c.d.path().iter().any(|s| s == "keypad:21"), "{:?}", c.d.path());
    // A key with nothing behind it says the same level again; silence too.
    let mut c = Call::start(Flow::Choix2, true, Switches::default());
    c.play_out();
    c.input(Input::AsrOverloaded { dropped: true, now: c.now });
    c.play_out();
    c.key('1');
    assert_eq!(c.key('7'), vec![p("keypad_invalid"), p("keypad_menu_1")]);
    assert_eq!(c.wait(8), vec![p("keypad_invalid"), p("keypad_menu_1")]);
    assert_eq!(c.key('5'), vec![p("transfer")]);
    assert_eq!(c.transfer().unwrap().reason, TransferReason::RepeatedFailure);
    // '0' in a group, and an agent option of a group, reach an agent.
    for keys in [&['1', '0'][..], &['2', '2'][..]] {
        let mut c = Call::start(Flow::Choix2, true, Switches::default());
        c.play_out();
        c.input(Input::AsrOverloaded { dropped: true, now: c.now });
        c.play_out();
        for k in keys {
            c.key(*k);
        }
        assert_eq!(c.transfer().unwrap().reason, TransferReason::Keypad0, "{keys:?}");
    }
}

#[test]
fn the_second_repeat_plays_the_short_answer_and_the_follow_up_comes_after_the_answer() {
    let mut cfg = config();
    cfg.short_answers.insert("prime-activite".into());
    cfg.follow_ups.insert("prime-activite".into());
    let mut c = Call::start_with(cfg, Flow::Choix2, true, Switches::default());
    c.play_out();
    let heard = c.say("la prime d'activité", "prime-activite", "answer", None);
    assert_eq!(heard, vec![Audio::Answer("prime-activite".into()), Audio::FollowUp("prime-activite".into()), p("another_question")]);
    assert_eq!(c.say("répétez", "@none", "fallback", None), vec![Audio::Answer("prime-activite".into()), p("another_question")]);
    assert_eq!(c.say("répétez", "@none", "fallback", None), vec![Audio::ShortAnswer("prime-activite".into()), p("another_question")]);
    assert_eq!(c.say("répétez", "@none", "fallback", None), vec![p("another_question")]);
    // The short answer counts as the topic's answer heard; the follow-up does not.
    let answers: Vec<_> = c
        .log
        .iter()
        .filter_map(|o| match o {
            Output::Event(DialogueEvent::Played { key, answer, .. }) => Some((key.clone(), answer.clone())),
            _ => None,
        })
        .collect();
    assert!(answers.contains(&("short/prime-activite".into(), Some("prime-activite".into()))), "{answers:?}");
    assert!(answers.contains(&("follow/prime-activite".into(), None)), "{answers:?}");
    // A topic without them: the full answer twice, no follow-up.
    c.key('2');
    assert_eq!(c.say("le rsa", "rsa-conditions", "answer", None), vec![Audio::Answer("rsa-conditions".into()), p("another_question")]);
    c.key('1');
    assert_eq!(c.key('1')[0], Audio::Answer("rsa-conditions".into()));
    // The follow-up is left out when the call closes after the answer.
    let mut cfg = config();
    cfg.follow_ups.insert("prime-activite".into());
    cfg.max_answers = 1;
    let mut c = Call::start_with(cfg, Flow::Choix2, true, Switches::default());
    c.play_out();
    assert_eq!(c.say("la prime", "prime-activite", "answer", None), vec![Audio::Answer("prime-activite".into()), p("goodbye")]);
}

#[test]
fn past_the_call_cap_no_timer_spins_and_the_bot_closes_when_it_would_listen() {
    let cap = Duration::from_secs(8 * 60);
    let mut c = Call::start(Flow::Choix2, true, Switches::default());
    c.play_out();
    // The caller is speaking when the cap passes.
    c.now = cap - Duration::from_secs(1);
    c.input(Input::SpeechStarted { now: c.now });
    c.now = cap;
    c.input(Input::Tick { now: c.now });
    let not_due = |c: &Call| c.d.poll_timeout().is_none_or(|t| t > c.now);
    assert!(not_due(&c), "a timer already due while the caller speaks: {:?} at {:?}", c.d.poll_timeout(), c.now);
    // The question gets its answer; while it plays no timer is due either.
    c.now += Duration::from_secs(2);
    let u = Understanding { intent: "prime-activite".into(), score: 0.8, runner_up: None, action: "answer".into() };
    c.input(Input::Utterance { text: "prime".into(), understanding: u, now: c.now });
    assert!(c.playing.is_some());
    c.input(Input::Tick { now: c.now });
    assert!(not_due(&c), "a timer already due while the answer plays: {:?}", c.d.poll_timeout());
    c.play_out();
    // Then, where the bot would listen again: one tick, the goodbye, the hang-up.
    let mut ticks = 0;
    while let Some(t) = c.d.poll_timeout() {
        c.now = c.now.max(t);
        c.input(Input::Tick { now: c.now });
        c.play_out();
        ticks += 1;
        assert!(ticks <= 2, "the shell is woken again and again past the cap");
    }
    assert!(c.log.iter().any(|o| matches!(o, Output::Play { audio, .. } if *audio == p("goodbye"))));
    assert!(c.hung_up());
}
