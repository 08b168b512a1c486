//! The keypad menu in two levels: a first level of a few groups (and the safety topic),
//! each group read by its own prompt with a few topics. '0' is the agent at any level
//! (handled with every key), '*' goes back to the first level or says it again.

use std::time::Duration;

use super::super::*;
use super::{prompt, After, Dialogue, Waiting};

impl Dialogue {
    /// The first level of the menu.
    pub(super) fn keypad_menu(&mut self, now: Duration) {
        self.step("keypad");
        self.keypad_level(None, now)
    }

    /// Says a level of the menu (again) and waits for its key.
    pub(super) fn keypad_level(&mut self, level: Option<char>, now: Duration) {
        let id = self.keypad_prompt(level);
        self.say(vec![prompt(&id)], After::Listen(Waiting::Keypad(level)), now)
    }

    fn keypad_group(&self, digit: char) -> Option<&KeypadGroup> {
        self.cfg.keypad_groups.iter().find(|g| g.digit == digit)
    }

    fn keypad_prompt(&self, level: Option<char>) -> String {
        level.and_then(|d| self.keypad_group(d)).map(|g| g.prompt.clone()).unwrap_or_else(|| "keypad_menu".into())
    }

    pub(super) fn keypad_key(&mut self, level: Option<char>, digit: char, now: Duration) {
        if digit == '*' {
            if level.is_some() {
                self.step("keypad-back");
            }
            return self.keypad_level(None, now);
        }
        let options = match level {
            None => Some(&self.cfg.keypad),
            Some(d) => self.keypad_group(d).map(|g| &g.options),
        };
        let target = options.and_then(|o| o.iter().find(|(d, _)| *d == digit)).map(|(_, t)| t.clone());
        let path = match level {
            Some(g) => format!("keypad:{g}{digit}"),
            None => format!("keypad:{digit}"),
        };
        match target {
            Some(t) if t == "@agent" => {
                self.step(&path);
                self.transfer(TransferReason::Keypad0, now)
            }
            Some(slug) if self.cfg.topics.contains_key(&slug) => {
                self.step(&path);
                self.topic(&slug, now)
            }
            _ => match self.keypad_group(digit).map(|g| g.prompt.clone()) {
                Some(id) if level.is_none() => {
                    self.step(&path);
                    self.say(vec![prompt(&id)], After::Listen(Waiting::Keypad(Some(digit))), now)
                }
                _ => self.keypad_invalid(level, now),
            },
        }
    }

    /// A key or words that choose nothing, or silence: the same level again; the third
    /// time an agent takes over.
    pub(super) fn keypad_invalid(&mut self, level: Option<char>, now: Duration) {
        self.keypad_fail += 1;
        if self.keypad_fail >= 3 {
            self.step("keypad-failed");
            return self.transfer(TransferReason::RepeatedFailure, now);
        }
        let id = self.keypad_prompt(level);
        self.say(vec![prompt("keypad_invalid"), prompt(&id)], After::Listen(Waiting::Keypad(level)), now)
    }
}
