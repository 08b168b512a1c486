//! The caller's words read in the context of the bot's last question: after an answer,
//! at the clarify question, during a procedure step, at the keypad menu. A reply said on
//! its own ("non merci, c'est tout", "le deuxième", "répétez") is taken as such first,
//! whatever topic the matcher saw in it; only a real new question goes to the topic.

use std::time::Duration;

use super::super::replies::{self, Reply};
use super::super::*;
use super::{prompt, After, Dialogue, Waiting};

impl Dialogue {
    pub(super) fn on_utterance(&mut self, waiting: Waiting, text: String, u: Understanding, now: Duration) {
        self.transcripts.push(text.clone());
        if !matches!(waiting, Waiting::Procedure(_)) {
            self.last_intent = Some(u.intent.clone());
        }
        self.out.push_back(Output::Event(DialogueEvent::Question {
            transcript: text.clone(),
            intent: u.intent.clone(),
            score: u.score,
            action: u.action.clone(),
        }));
        let reply = replies::classify(&text);
        // Said on its own, a reply answers the bot's question whatever topic the matcher
        // saw in it ("non merci, c'est tout" is not the attestation de non-paiement).
        let bare = reply.filter(|_| replies::is_bare(&text));
        match waiting {
            Waiting::Ask => match bare {
                Some(Reply::Goodbye | Reply::No) => self.goodbye(now),
                Some(Reply::Agent) => {
                    self.step("agent");
                    self.transfer(TransferReason::AgentRequest, now)
                }
                Some(Reply::Callback) => self.callback_request(now),
                Some(Reply::Repeat | Reply::Another) => {
                    self.step("ask-again");
                    self.say(vec![prompt("ask_question")], After::Listen(Waiting::Ask), now)
                }
                _ => {
                    if u.intent == "@none" && reply == Some(Reply::Goodbye) {
                        return self.goodbye(now);
                    }
                    if reply == Some(Reply::Callback) && (u.intent.starts_with('@') || replies::asks_call_back(&text)) {
                        return self.callback_request(now);
                    }
                    self.act(u, now)
                }
            },
            Waiting::Another => self.after_answer(reply, bare.is_some(), &text, u, now),
            Waiting::Clarify { a, b } => match bare {
                Some(Reply::First) => self.topic(&a, now),
                Some(Reply::Second) => self.topic(&b, now),
                Some(Reply::Agent) => self.transfer(TransferReason::AgentRequest, now),
                Some(Reply::Goodbye) => self.goodbye(now),
                Some(Reply::Callback) => self.callback_request(now),
                // Neither topic: the caller says the question again, in other words.
                Some(Reply::No) => {
                    self.clarified = true;
                    self.step("clarify-neither");
                    self.say(vec![prompt("ask_question")], After::Listen(Waiting::Ask), now)
                }
                Some(Reply::Repeat) => {
                    self.step("clarify-again");
                    self.ask_clarify(a, b, now)
                }
                Some(Reply::Another) | None => {
                    if u.intent == a || reply == Some(Reply::First) {
                        self.topic(&a, now)
                    } else if u.intent == b || reply == Some(Reply::Second) {
                        self.topic(&b, now)
                    } else if reply == Some(Reply::Agent) && (u.intent.starts_with('@') || replies::names_an_agent(&text)) {
                        self.transfer(TransferReason::AgentRequest, now)
                    } else if u.intent == "@none" && self.none_count == 0 {
                        // A short reply misheard ("le deuxième" written "l'udujan"), or a
                        // "oui" that picks nothing: the choice is asked again, once,
                        // rather than the whole question.
                        self.none_count += 1;
                        self.step("clarify-again");
                        self.ask_clarify(a, b, now)
                    } else {
                        self.act(u, now)
                    }
                }
            },
            Waiting::Keypad(level) => match bare {
                Some(Reply::Goodbye) => self.goodbye(now),
                Some(Reply::Agent) => {
                    self.step("agent");
                    self.transfer(TransferReason::AgentRequest, now)
                }
                Some(Reply::Callback) => self.callback_request(now),
                Some(Reply::Repeat) => self.keypad_level(level, now),
                // "un", "le deuxième": a key said aloud.
                Some(Reply::First) => self.on_dtmf(Waiting::Keypad(level), '1', now),
                Some(Reply::Second) => self.on_dtmf(Waiting::Keypad(level), '2', now),
                _ if u.intent != "@none" => self.act(u, now),
                _ => self.keypad_invalid(level, now),
            },
            Waiting::Procedure(kind) => {
                let nothing_yet = self.procedure_text.is_empty() && self.procedure_digits.is_empty();
                match bare {
                    // Before any detail, a plain no or goodbye cancels the request.
                    Some(Reply::Goodbye) if nothing_yet => {
                        self.step("procedure-cancel");
                        self.goodbye(now)
                    }
                    Some(Reply::No) if nothing_yet => {
                        self.step("procedure-cancel");
                        self.say(vec![prompt("ask_question")], After::Listen(Waiting::Ask), now)
                    }
                    // "merci, au revoir" once the details are given: the request is kept.
                    Some(Reply::Goodbye) => self.finish_procedure_and_leave(kind, now),
                    Some(Reply::Agent) => {
                        if !nothing_yet {
                            self.record_procedure(kind, false);
                        }
                        self.step("agent");
                        self.transfer(TransferReason::AgentRequest, now)
                    }
                    Some(Reply::Repeat) if nothing_yet => {
                        self.step("procedure-repeat");
                        self.start_procedure(kind, now)
                    }
                    // "oui", "d'accord", "rappelez-moi" before the details: the caller agrees,
                    // nothing to record yet.
                    Some(Reply::Another | Reply::Callback) if nothing_yet => {
                        self.listening = Some(Waiting::Procedure(kind));
                        self.deadline = Some(now + self.cfg.no_input);
                    }
                    _ => {
                        if !self.procedure_text.is_empty() {
                            self.procedure_text.push_str(" / ");
                        }
                        self.procedure_text.push_str(&text);
                        // Callers dictate in pieces (name, date, address): a pause or '#' ends the request.
                        self.listening = Some(Waiting::Procedure(kind));
                        self.deadline = Some(now + self.cfg.dictation_pause);
                    }
                }
            }
        }
    }

    /// The caller's words after an answer (or a procedure, a redirect, a failed transfer),
    /// when the bot offered to repeat, take another question or pass an agent.
    fn after_answer(&mut self, reply: Option<Reply>, bare: bool, text: &str, u: Understanding, now: Duration) {
        let loose = u.intent == "@none" || u.score < 0.5;
        if let (true, Some(r)) = (bare, reply) {
            // "1" and "2" are the keys of repeat and another question.
            return match r {
                Reply::Goodbye | Reply::No => self.goodbye(now),
                Reply::Repeat | Reply::First => self.repeat(now),
                Reply::Another | Reply::Second => {
                    self.step("another");
                    self.say(vec![prompt("ask_question")], After::Listen(Waiting::Ask), now)
                }
                Reply::Agent => {
                    self.step("agent");
                    self.transfer(TransferReason::AgentRequest, now)
                }
                Reply::Callback => self.callback_request(now),
            };
        }
        match reply {
            Some(Reply::Repeat) => self.repeat(now),
            Some(Reply::Callback) if u.intent.starts_with('@') || replies::asks_call_back(text) => self.callback_request(now),
            Some(Reply::Another) if loose => {
                self.step("another");
                self.say(vec![prompt("ask_question")], After::Listen(Waiting::Ask), now)
            }
            // "quelqu'un m'a dit que…" or "une personne handicapée" is a question.
            Some(Reply::Agent) if u.intent == "@agent" || loose || replies::names_an_agent(text) => {
                self.step("agent");
                self.transfer(TransferReason::AgentRequest, now)
            }
            Some(Reply::Goodbye | Reply::No) if loose => self.goodbye(now),
            _ if u.intent != "@none" => self.act(u, now),
            _ => {
                self.none_count += 1;
                if self.none_count >= 2 {
                    self.keypad_menu(now)
                } else {
                    self.say(vec![prompt("repeat_hint")], After::Listen(Waiting::Another), now)
                }
            }
        }
    }
}
