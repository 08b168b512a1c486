//! The calibrated decision: answer, ask which of the top two was meant, or refuse,
//! chosen by expected cost instead of hand-set thresholds.
//!
//! Two logistic models read the same features of a ranking ([`Features`]: the top and
//! runner-up scores, their margin and ratio, the coverage of the caller's words, the
//! `@none` and `@agent` scores, whether the words name the topic, the utterance length,
//! the phonetic match) and estimate `p1`, the probability that the top topic is the one
//! asked for, and `p2`, the same for the runner-up. With [`Costs`] (an unsafe answer
//! costs `unsafe_answer` refusals, a clarify question costs `clarify_turn`):
//!
//! ```text
//! answer  : (1 − p1) · unsafe_answer
//! clarify : clarify_turn + (1 − min(1, p1 + p2)) · refuse        (the caller says neither)
//! refuse  : min(1, p1 + p2) · refuse
//! ```
//!
//! and the cheapest wins (off by default: see [`FITTED`] for why). The hard rules stay in front (an explicit request for a human,
//! an `@agent` or `@none` phrasing scoring above every topic).
//!
//! Fitted on our own examples only — the knowledge base's example phrasings held out one
//! at a time, as text and as spoken by `ivr bench understanding` through a telephone line
//! — never on the evaluation sets: `ivr bench understanding --set heldout --limit 0 --fit`
//! prints the cross-validated outcome and the coefficients below.

use std::fmt::Write as _;

/// Number of features.
pub const N: usize = 11;

/// Feature names, in order (for the fit report).
pub const NAMES: [&str; N] = ["top", "runner", "margin", "ratio", "coverage", "top_coverage", "none", "agent", "names_topic", "log_words", "phonetic"];

/// Features of one ranking.
pub type Features = [f32; N];

/// A ranking's features with the two candidates they are about; labelled for a fit.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub features: Features,
    pub top: Option<String>,
    pub runner: Option<String>,
    /// Whether the top / runner-up topic is the expected one (set by [`Sample::labelled`]).
    pub top_right: bool,
    pub runner_right: bool,
    /// The expected intent is `@none` or `@agent`.
    pub special: bool,
}

impl Sample {
    pub fn labelled(mut self, expected: &[String]) -> Sample {
        let is = |x: &Option<String>| x.as_ref().is_some_and(|t| expected.contains(t));
        self.top_right = is(&self.top);
        self.runner_right = is(&self.runner);
        self.special = expected.iter().all(|e| e.starts_with('@'));
        self
    }
}

/// What each outcome costs, in refusals.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Costs {
    pub unsafe_answer: f32,
    pub clarify_turn: f32,
    pub refuse: f32,
}

impl Default for Costs {
    fn default() -> Self {
        // A wrong answer misleads the caller and is worse than a re-ask: five refusals.
        Costs { unsafe_answer: 5.0, clarify_turn: 0.3, refuse: 1.0 }
    }
}

/// One logistic model over standardised features.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Logistic {
    pub mean: Features,
    pub scale: Features,
    pub weights: Features,
    pub bias: f32,
}

impl Logistic {
    pub fn p(&self, f: &Features) -> f32 {
        let mut z = self.bias;
        for (i, x) in f.iter().enumerate().take(N) {
            z += self.weights[i] * (x - self.mean[i]) / self.scale[i];
        }
        1.0 / (1.0 + (-z).exp())
    }

    /// Gradient descent on the L2-regularised log loss.
    pub fn fit(xs: &[Features], ys: &[bool]) -> Logistic {
        let n = xs.len().max(1) as f32;
        let mut mean = [0f32; N];
        let mut scale = [1f32; N];
        for i in 0..N {
            mean[i] = xs.iter().map(|x| x[i]).sum::<f32>() / n;
            let var = xs.iter().map(|x| (x[i] - mean[i]).powi(2)).sum::<f32>() / n;
            scale[i] = var.sqrt().max(1e-3);
        }
        let z: Vec<Features> = xs
            .iter()
            .map(|x| {
                let mut s = [0f32; N];
                for i in 0..N {
                    s[i] = (x[i] - mean[i]) / scale[i];
                }
                s
            })
            .collect();
        let (mut w, mut b) = ([0f32; N], 0f32);
        let (lr, l2) = (0.5f32, 0.01f32);
        for _ in 0..600 {
            let mut gw = [0f32; N];
            let mut gb = 0f32;
            for (x, &y) in z.iter().zip(ys) {
                let mut t = b;
                for i in 0..N {
                    t += w[i] * x[i];
                }
                let err = 1.0 / (1.0 + (-t).exp()) - if y { 1.0 } else { 0.0 };
                for i in 0..N {
                    gw[i] += err * x[i];
                }
                gb += err;
            }
            for i in 0..N {
                w[i] -= lr * (gw[i] / n + l2 * w[i]);
            }
            b -= lr * gb / n;
        }
        Logistic { mean, scale, weights: w, bias: b }
    }
}

/// The choice the calibrated decision makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    Answer,
    Clarify,
    Refuse,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Calibration {
    pub top: Logistic,
    pub runner: Logistic,
    pub costs: Costs,
}

impl Calibration {
    pub fn choose(&self, f: &Features, has_runner: bool) -> (Choice, f32, f32) {
        let p1 = self.top.p(f);
        let p2 = if has_runner { self.runner.p(f) } else { 0.0 };
        (self.choose_p(p1, p2, has_runner), p1, p2)
    }

    pub fn choose_p(&self, p1: f32, p2: f32, has_runner: bool) -> Choice {
        let c = &self.costs;
        let any = (p1 + p2).min(1.0);
        let answer = (1.0 - p1) * c.unsafe_answer;
        let clarify = if has_runner { c.clarify_turn + (1.0 - any) * c.refuse } else { f32::INFINITY };
        let refuse = any * c.refuse;
        if answer <= clarify && answer <= refuse {
            Choice::Answer
        } else if clarify <= refuse {
            Choice::Clarify
        } else {
            Choice::Refuse
        }
    }

    pub fn fit(samples: &[&Sample], costs: Costs) -> Calibration {
        let xs: Vec<Features> = samples.iter().map(|s| s.features).collect();
        let y1: Vec<bool> = samples.iter().map(|s| s.top_right).collect();
        let y2: Vec<bool> = samples.iter().map(|s| s.runner_right).collect();
        Calibration { top: Logistic::fit(&xs, &y1), runner: Logistic::fit(&xs, &y2), costs }
    }

    /// The coefficients as Rust source, to paste into [`Calibration::default`].
    pub fn to_rust(&self) -> String {
        let arr = |a: &Features| a.iter().map(|v| format!("{v:.4}")).collect::<Vec<_>>().join(", ");
        let lg = |l: &Logistic| {
            format!(
                "Logistic {{\n            mean: [{}],\n            scale: [{}],\n            weights: [{}],\n            bias: {:.4},\n        }}",
                arr(&l.mean),
                arr(&l.scale),
                arr(&l.weights),
                l.bias
            )
        };
        format!("Calibration {{\n        top: {},\n        runner: {},\n        costs: Costs::default(),\n    }}", lg(&self.top), lg(&self.runner))
    }
}

impl Default for Calibration {
    /// Fitted by `ivr bench understanding --set heldout --limit 0 --fit` (see the module
    /// documentation).
    fn default() -> Self {
        FITTED
    }
}

/// Fitted by `ivr bench understanding --knowledge <snapshot> --set heldout --limit 0
/// --cached-only --phonetic on --fit` on 708 samples: every 2nd knowledge example held
/// out, as text (682) and as heard by Whisper in three voices (26 × 3), 5-fold
/// cross-validated at unsafe 5, clarify 0.3: 75.8 % right (41 % of them by the clarify
/// question), 6 unsafe, against 72.3 % right and 61 unsafe for the threshold rules.
/// Costs raised to unsafe 8 so the rejection probes stay rejected. Not the service's
/// decision: on the spoken dev sample (`--set dev --limit 40`) it gained nothing over the
/// rules (plain voice 72.5 % both, fast-low 37.5 % both) while asking the clarify
/// question for 42 % of the text questions the rules answered right directly, and one
/// more unsafe answer. The spoken misses are transcripts with no topic word left.
const FITTED: Calibration = Calibration {
    top: Logistic {
        mean: [0.5835, 0.3652, 0.2183, 0.6740, 0.9284, 0.7562, 0.1424, 0.0679, 0.6610, 1.4562, 0.5163],
        scale: [0.3039, 0.1955, 0.2133, 0.2132, 0.1640, 0.2484, 0.1074, 0.0806, 0.4734, 0.3353, 0.3843],
        weights: [0.3209, -0.1849, 0.6268, -0.4130, 0.0260, 0.8274, -0.3585, -0.1224, 0.2847, 0.3804, 0.5270],
        bias: 1.7436,
    },
    runner: Logistic {
        mean: [0.5835, 0.3652, 0.2183, 0.6740, 0.9284, 0.7562, 0.1424, 0.0679, 0.6610, 1.4562, 0.5163],
        scale: [0.3039, 0.1955, 0.2133, 0.2132, 0.1640, 0.2484, 0.1074, 0.0806, 0.4734, 0.3353, 0.3843],
        weights: [-0.1291, 0.4912, -0.6343, 0.3958, 0.1883, -0.4163, 0.1223, -0.0167, -0.2622, 0.1768, -0.1958],
        bias: -2.9284,
    },
    costs: Costs { unsafe_answer: 8.0, clarify_turn: 0.3, refuse: 1.0 },
};

/// Outcome counts of a decision over labelled samples.
#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    n: usize,
    right: usize,
    clarify_right: usize,
    unsafe_answers: usize,
    refused: usize,
    clarify_wrong: usize,
    special_answered: usize,
}

impl Tally {
    fn add(&mut self, s: &Sample, c: Choice) {
        self.n += 1;
        match c {
            Choice::Answer if s.top_right => self.right += 1,
            Choice::Answer => {
                self.unsafe_answers += 1;
                if s.special {
                    self.special_answered += 1;
                }
            }
            Choice::Clarify if s.top_right || s.runner_right => self.clarify_right += 1,
            Choice::Clarify => self.clarify_wrong += 1,
            Choice::Refuse if s.special => self.right += 1,
            Choice::Refuse => self.refused += 1,
        }
    }

    fn line(&self, name: &str) -> String {
        let p = |x: usize| 100.0 * x as f64 / self.n.max(1) as f64;
        format!(
            "  {name:<28} right {:5.1} % (clarify {:4.1} %)  unsafe {:3} (of them out of scope {:3})  refused {:3}  clarify-wrong {:3}",
            p(self.right + self.clarify_right),
            p(self.clarify_right),
            self.unsafe_answers,
            self.special_answered,
            self.refused,
            self.clarify_wrong
        )
    }
}

/// Fits on `(group, sample)` pairs (a group = one utterance: its text and spoken forms
/// stay in the same fold), 5-fold, for a few unsafe-answer costs; prints the held-out
/// outcome of each and the coefficients fitted on everything at the default costs.
/// Samples whose ranking was decided by a hard rule (no topic) are left out.
pub fn fit_report(samples: &[(usize, Sample)]) -> String {
    let usable: Vec<&(usize, Sample)> = samples.iter().filter(|(_, s)| s.top.is_some()).collect();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "calibration fit: {} samples ({} with the top topic right, {} out of scope)",
        usable.len(),
        usable.iter().filter(|(_, s)| s.top_right).count(),
        usable.iter().filter(|(_, s)| s.special).count()
    );
    for (unsafe_cost, clarify_turn) in [(3.0f32, 0.3f32), (5.0, 0.3), (8.0, 0.3), (5.0, 0.5), (5.0, 0.7), (8.0, 0.7)] {
        let costs = Costs { unsafe_answer: unsafe_cost, clarify_turn, refuse: 1.0 };
        let mut tally = Tally::default();
        for fold in 0..5 {
            let train: Vec<&Sample> = usable.iter().filter(|(g, _)| g % 5 != fold).map(|(_, s)| s).collect();
            let cal = Calibration::fit(&train, costs);
            for (g, s) in &usable {
                if g % 5 == fold {
                    tally.add(s, cal.choose(&s.features, s.runner.is_some()).0);
                }
            }
        }
        let _ = writeln!(out, "{}", tally.line(&format!("5-fold, unsafe {unsafe_cost}, clarify {clarify_turn}")));
    }
    let all: Vec<&Sample> = usable.iter().map(|(_, s)| s).collect();
    let cal = Calibration::fit(&all, Costs::default());
    let mut tally = Tally::default();
    for s in &all {
        tally.add(s, cal.choose(&s.features, s.runner.is_some()).0);
    }
    let _ = writeln!(out, "{}", tally.line("fitted on all (in-sample)"));
    let _ = writeln!(out, "  top weights:    {}", NAMES.iter().zip(cal.top.weights).map(|(n, w)| format!("{n} {w:+.2}")).collect::<Vec<_>>().join(", "));
    let _ = writeln!(out, "  runner weights: {}", NAMES.iter().zip(cal.runner.weights).map(|(n, w)| format!("{n} {w:+.2}")).collect::<Vec<_>>().join(", "));
    let _ = writeln!(out, "const FITTED: Calibration = {};", cal.to_rust());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn costs_order_the_choices() {
        let c = Calibration::default();
        // Sure of the top: answer. Torn between two: clarify. Sure of nothing: refuse.
        assert_eq!(c.choose_p(0.97, 0.01, true), Choice::Answer);
        assert_eq!(c.choose_p(0.5, 0.45, true), Choice::Clarify);
        assert_eq!(c.choose_p(0.05, 0.05, true), Choice::Refuse);
        // Without a runner-up there is nothing to clarify.
        assert_eq!(c.choose_p(0.5, 0.0, false), Choice::Refuse);
    }

    #[test]
    fn logistic_fit_separates_a_simple_rule() {
        let xs: Vec<Features> = (0..200)
            .map(|i| {
                let mut f = [0f32; N];
                f[0] = i as f32 / 200.0;
                f[1] = ((i * 7) % 13) as f32 / 13.0;
                f
            })
            .collect();
        let ys: Vec<bool> = xs.iter().map(|f| f[0] > 0.5).collect();
        let m = Logistic::fit(&xs, &ys);
        let mut lo = [0f32; N];
        lo[0] = 0.2;
        let mut hi = [0f32; N];
        hi[0] = 0.8;
        assert!(m.p(&lo) < 0.2 && m.p(&hi) > 0.8, "{} {}", m.p(&lo), m.p(&hi));
    }
}
