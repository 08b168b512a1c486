//! What the bot does once it knows what the caller meant: answer, clarify, hand over,
//! run a procedure, close. Split from the input handling so each file reads on its own.

use std::time::Duration;

use super::super::*;
use super::{prompt, reason_tag, After, Dialogue, Waiting};

impl Dialogue {
    pub(super) fn act(&mut self, u: Understanding, now: Duration) {
        if u.intent == "@agent" {
            self.step("agent");
            return self.transfer(TransferReason::AgentRequest, now);
        }
        let known = self.cfg.topics.contains_key(&u.intent);
        // "confirm": the words were half lost by the recognizer, the topic stands out. It
        // is offered by the clarify question, never answered: when the question cannot be
        // asked (no second topic, already asked once) it is not understood.
        let confirm = u.action == "confirm";
        if confirm || (u.action == "clarify" && !self.clarified) {
            if let Some(b) = u.runner_up.clone().filter(|b| !self.clarified && self.cfg.topics.contains_key(b) && *b != u.intent && known) {
                self.clarified = true;
                let a = u.intent;
                self.step(&format!("clarify:{a}|{b}"));
                return self.ask_clarify(a, b, now);
            }
        }
        if u.intent == "@none" || u.action == "fallback" || !known || confirm {
            self.none_count += 1;
            self.step("none");
            return if self.none_count >= 2 { self.keypad_menu(now) } else { self.say(vec![prompt("not_understood")], After::Listen(Waiting::Ask), now) };
        }
        self.topic(&u.intent, now)
    }

    /// "Pour : {a}, dites le premier, ou tapez 1. Pour : {b}, …"
    pub(super) fn ask_clarify(&mut self, a: String, b: String, now: Duration) {
        let seq = vec![
            Audio::PromptPart("clarify".into(), 0),
            Audio::Title(a.clone()),
            Audio::PromptPart("clarify".into(), 1),
            Audio::Title(b.clone()),
            Audio::PromptPart("clarify".into(), 2),
        ];
        self.say(seq, After::Listen(Waiting::Clarify { a, b }), now)
    }

    pub(super) fn topic(&mut self, slug: &str, now: Duration) {
        let Some(info) = self.cfg.topics.get(slug).cloned() else {
            return self.keypad_menu(now);
        };
        self.none_count = 0;
        self.clarified = false;
        self.last_topic = Some(slug.to_string());
        self.step(&format!("topic:{slug}"));
        if info.urgent {
            return self.transfer_after(vec![prompt("urgent_safety"), prompt("transfer")], TransferReason::Urgent, now);
        }
        match info.action {
            TopicAction::Transfer => self.transfer_after(vec![Audio::Answer(slug.to_string()), prompt("transfer")], TransferReason::TopicTransfer, now),
            TopicAction::RedirectChoix1 => self.say(vec![prompt("redirect_choix1"), prompt("another_question")], After::Listen(Waiting::Another), now),
            TopicAction::Procedure(kind) => self.start_procedure(kind, now),
            TopicAction::Answer => {
                self.answers += 1;
                self.repeats = 0;
                self.last_answer = Some(slug.to_string());
                let mut seq = vec![Audio::Answer(slug.to_string())];
                if info.complex {
                    seq.push(prompt("appointment"));
                }
                // "Pour …, dites …": a next question the caller may not know to ask; not
                // when the call closes after this answer.
                if self.cfg.follow_ups.contains(slug) && self.answers < self.cfg.max_answers {
                    seq.push(Audio::FollowUp(slug.to_string()));
                }
                self.offer_next(seq, now)
            }
        }
    }

    pub(super) fn start_procedure(&mut self, kind: ProcedureKind, now: Duration) {
        self.procedure_text.clear();
        self.procedure_digits.clear();
        self.procedure_reasks = 0;
        let id = match kind {
            ProcedureKind::AttestationNonPaiement => "attestation_collect",
            ProcedureKind::Rappel => "callback_collect",
        };
        self.say(vec![prompt(id)], After::Listen(Waiting::Procedure(kind)), now)
    }

    /// The call-back request has no topic of its own: "rappelez-moi" is not a question the
    /// matcher knows (it says `@none`, or `@agent` when a conseiller is named).
    pub(super) fn callback_request(&mut self, now: Duration) {
        self.none_count = 0;
        self.step("callback");
        self.start_procedure(ProcedureKind::Rappel, now)
    }

    /// After an answer: another question, unless the call has had its share.
    pub(super) fn offer_next(&mut self, mut seq: Vec<Audio>, now: Duration) {
        if self.answers >= self.cfg.max_answers {
            seq.push(prompt("goodbye"));
            self.close(seq, now)
        } else {
            seq.push(prompt("another_question"));
            self.say(seq, After::Listen(Waiting::Another), now)
        }
    }

    /// "répéter": the answer again, then its short version (a caller who asks twice
    /// wants the gist), then only the offer.
    pub(super) fn repeat(&mut self, now: Duration) {
        self.step("repeat");
        match self.last_answer.clone() {
            Some(slug) if self.repeats < self.cfg.max_repeats => {
                self.repeats += 1;
                let audio = if self.repeats >= 2 && self.cfg.short_answers.contains(&slug) { Audio::ShortAnswer(slug) } else { Audio::Answer(slug) };
                self.say(vec![audio, prompt("another_question")], After::Listen(Waiting::Another), now)
            }
            None if self.safety_failed && self.repeats < self.cfg.max_repeats => {
                self.repeats += 1;
                self.say(vec![prompt("transfer_failed_safety"), prompt("another_question")], After::Listen(Waiting::Another), now)
            }
            _ => self.say(vec![prompt("another_question")], After::Listen(Waiting::Another), now),
        }
    }

    /// The procedure's request as an event (the shell stores it).
    pub(super) fn record_procedure(&mut self, kind: ProcedureKind, complete: bool) {
        let record = ProcedureRecord {
            kind,
            transcript: std::mem::take(&mut self.procedure_text),
            digits: std::mem::take(&mut self.procedure_digits),
            topic: self.last_intent.clone(),
            complete,
        };
        self.out.push_back(Output::Event(DialogueEvent::Procedure(record)));
    }

    pub(super) fn finish_procedure(&mut self, kind: ProcedureKind, complete: bool, now: Duration) {
        self.record_procedure(kind, complete);
        if !complete {
            self.step("procedure-incomplete");
            return self.transfer(TransferReason::ProcedureIncomplete, now);
        }
        self.step("procedure-done");
        self.offer_next(vec![prompt(procedure_done(kind))], now)
    }

    /// "merci, au revoir" after the details: the request is kept, confirmed, and the call ends.
    pub(super) fn finish_procedure_and_leave(&mut self, kind: ProcedureKind, now: Duration) {
        self.record_procedure(kind, true);
        self.step("procedure-done");
        self.step("goodbye");
        self.close(vec![prompt(procedure_done(kind)), prompt("goodbye")], now)
    }

    pub(super) fn goodbye(&mut self, now: Duration) {
        self.step("goodbye");
        self.close(vec![prompt("goodbye")], now)
    }

    pub(super) fn transfer(&mut self, reason: TransferReason, now: Duration) {
        self.transfer_after(vec![prompt("transfer")], reason, now)
    }

    pub(super) fn transfer_after(&mut self, seq: Vec<Audio>, reason: TransferReason, now: Duration) {
        self.step(&format!("transfer:{}", reason_tag(reason)));
        self.transfer_reason = Some(reason);
        let req = TransferRequest {
            flow: self.flow,
            target: match self.flow {
                Flow::Choix2 => self.cfg.transfer_choix2.clone(),
                Flow::Choix3 => self.cfg.transfer_choix3.clone(),
            },
            reason,
            topic: self.last_topic.clone(),
            transcript: self.recent_transcript(200),
            path: self.path.clone(),
        };
        self.say(seq, After::Transfer(req), now)
    }

    /// Loop guard: too many turns → an agent takes over.
    pub(super) fn guard_turns(&mut self, now: Duration) -> bool {
        self.turns += 1;
        if self.turns > self.cfg.max_turns {
            self.step("too-many-turns");
            self.transfer(TransferReason::TooLong, now);
            return true;
        }
        false
    }
}

fn procedure_done(kind: ProcedureKind) -> &'static str {
    match kind {
        ProcedureKind::AttestationNonPaiement => "attestation_done",
        ProcedureKind::Rappel => "callback_done",
    }
}
