//! Matcher behaviour on a small hand-written base (the real content is tested against
//! the dev set in tests/nlu_dev.rs).

use std::fs;

use crate::knowledge::KnowledgeBase;
use crate::{Matcher, SharedMatcher, AGENT, NONE};

fn topic(slug: &str, title: &str, action: &str, keywords: &[&str], examples: &[&str], answer: &str) -> String {
    let q = |v: &[&str]| v.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>().join(", ");
    format!(
        "slug = \"{slug}\"\nflow = 2\ntitle = \"{title}\"\naction = \"{action}\"\nkeywords = [{}]\nexamples = [{}]\n\
         answer = \"{answer}\"\nsources = [\"https://www.caf.fr/\"]\nreviewed = 2026-11-01\n",
        q(keywords),
        q(examples)
    )
}

pub(crate) fn fixture() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::create_dir_all(d.join("_intents")).unwrap();
    let files = [
        (
            "mot-de-passe-oublie",
            topic(
                "mot-de-passe-oublie",
                "Mot de passe oublié",
                "answer",
                &["mot de passe", "code confidentiel", "identifiant", "connexion"],
                &[
                    "j'ai perdu mon mot de passe",
                    "je ne me souviens plus de mon code confidentiel",
                    "comment réinitialiser mon mot de passe sur caf point f r",
                    "mot de passe oublié",
                    "je n'arrive pas à me connecter j'ai oublié le code",
                    "il faut un nouveau mot de passe",
                ],
                "Sur caf point f r, choisissez mot de passe oublié. Un code vous est envoyé par courriel.",
            ),
        ),
        (
            "rsa",
            topic(
                "rsa",
                "Le RSA",
                "answer",
                &["rsa", "revenu de solidarité active"],
                &[
                    "comment toucher le r s a",
                    "je voudrais demander le revenu de solidarité active",
                    "j'ai droit au rsa",
                    "le air ès a c'est pour qui",
                    "je n'ai plus de ressources quelle aide",
                    "conditions du rsa",
                ],
                "Le revenu de solidarité active complète des ressources faibles. Faites la demande sur caf point f r.",
            ),
        ),
        (
            "aide-logement",
            topic(
                "aide-logement",
                "Aide au logement",
                "answer",
                &["apl", "loyer", "aide au logement"],
                &[
                    "comment avoir l'apl",
                    "je loue un studio est-ce que j'ai droit à une aide",
                    "aide pour payer mon loyer",
                    "la a p l c'est quoi",
                    "demander l'allocation logement",
                    "aide personnalisée au logement conditions",
                ],
                "Les aides au logement aident à payer le loyer. Faites une simulation puis la demande en ligne.",
            ),
        ),
        (
            "prendre-rendez-vous",
            topic(
                "prendre-rendez-vous",
                "Prendre rendez-vous",
                "answer",
                &["rendez-vous", "agence"],
                &[
                    "je voudrais un rendez-vous",
                    "prendre rdv avec la caf",
                    "comment avoir un rendez vous à l'accueil",
                    "rencontrer quelqu'un en agence",
                    "réserver un créneau",
                    "un rendez-vous avec un conseiller en agence",
                ],
                "Prenez rendez-vous dans votre espace Mon Compte, rubrique rendez-vous.",
            ),
        ),
        (
            "horaires-3230",
            topic(
                "horaires-3230",
                "Le 3230",
                "answer",
                &["3230", "horaires", "gratuit"],
                &[
                    "à quelle heure vous ouvrez",
                    "le 3230 est-il gratuit",
                    "quels sont vos horaires",
                    "combien coûte l'appel",
                    "le numéro trente deux trente",
                    "vous êtes ouverts quand",
                ],
                "Le 3230 répond du lundi au vendredi. L'appel est gratuit.",
            ),
        ),
        (
            "aide-urgence-violences",
            topic(
                "aide-urgence-violences",
                "Violences conjugales",
                "transfer",
                &["violences", "3919"],
                &[
                    "mon mari me frappe",
                    "je suis victime de violences conjugales",
                    "aide d'urgence violences",
                    "je dois fuir mon conjoint violent",
                    "violences dans le couple",
                    "j'ai peur de mon compagnon",
                ],
                "En danger, appelez le 17. Le 3919 écoute les victimes. Je vous passe un conseiller.",
            ),
        ),
    ];
    for (slug, text) in files {
        fs::write(d.join(format!("{slug}.toml")), text).unwrap();
    }
    let q = |v: &[&str]| v.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>().join(", ");
    fs::write(
        d.join("_intents/agent.toml"),
        format!(
            "intent = \"@agent\"\nexamples = [{}]\n",
            q(&[
                "je veux parler à un conseiller",
                "passez moi un agent",
                "un humain s'il vous plaît",
                "je voudrais avoir quelqu'un au téléphone",
                "mettez-moi en relation avec une personne",
            ])
        ),
    )
    .unwrap();
    fs::write(
        d.join("_intents/none.toml"),
        format!(
            "intent = \"@none\"\nexamples = [{}]\n",
            q(&[
                "je voudrais renouveler ma carte vitale",
                "ma déclaration d'impôts",
                "quel temps fait-il",
                "je cherche un emploi à pôle emploi",
                "ma retraite complémentaire",
                "allô allô",
            ])
        ),
    )
    .unwrap();
    fs::write(d.join("catalog.tsv"), "slug\tchoix\n").unwrap();
    dir
}

fn matcher() -> (tempfile::TempDir, Matcher) {
    let dir = fixture();
    let kb = KnowledgeBase::load(dir.path()).unwrap();
    let m = Matcher::build(&kb).unwrap();
    (dir, m)
}

#[test]
fn finds_topics_from_unseen_phrasings() {
    let (_d, m) = matcher();
    for (text, want) in [
        ("bonjour j'ai oublié mon mot de passe", "mot-de-passe-oublie"),
        ("euh le rsa comment on le demande", "rsa"),
        ("l'aide personnalisée au logement pour mon appartement", "aide-logement"),
        ("c'est quoi les horaires du trois mille deux cent trente", "horaires-3230"),
        ("je veux un rendez vous", "prendre-rendez-vous"),
    ] {
        let d = m.classify(text).unwrap();
        assert_eq!(d.intent, want, "{text}: {d:?}");
        assert!(d.score > 0.0, "{d:?}");
    }
}

#[test]
fn tolerates_recognition_errors() {
    let (_d, m) = matcher();
    let r = m.rank("mon mot de pass oublier").unwrap();
    assert_eq!(r.ranked[0].0, "mot-de-passe-oublie", "{:?} cov {}", r.ranked, r.coverage);
    assert_eq!(m.classify("le air es a").unwrap().intent, "rsa");
}

#[test]
fn a_human_request_wins_over_a_topic() {
    let (_d, m) = matcher();
    let d = m.classify("je veux parler à un conseiller pour mon RSA").unwrap();
    assert_eq!((d.intent.as_str(), d.action.as_str()), (AGENT, "transfer"));
    assert_eq!(d.runner_up.map(|r| r.intent), Some("rsa".to_string()));
    let d = m.classify("un rendez-vous avec un conseiller à l'agence").unwrap();
    assert_eq!(d.intent, "prendre-rendez-vous");
}

#[test]
fn out_of_scope_and_empty_are_none() {
    let (_d, m) = matcher();
    for text in ["", "euh", "bonjour", "je voudrais commander une pizza", "ma carte vitale est perdue", "quel temps fera-t-il demain"] {
        let d = m.classify(text).unwrap();
        assert_eq!((d.intent.as_str(), d.action.as_str()), (NONE, "fallback"), "{text:?}: {d:?}");
    }
}

#[test]
fn action_comes_from_the_topic_or_clarify() {
    let (_d, mut m) = matcher();
    let d = m.classify("je suis victime de violences").unwrap();
    assert_eq!((d.intent.as_str(), d.action.as_str()), ("aide-urgence-violences", "transfer"));
    // The threshold rules (the decision before calibration): with a ratio of 0 every
    // runner-up is "close", the rule must then ask.
    m.calibration = None;
    m.thresholds.clarify_ratio = 0.0;
    assert_eq!(m.classify("j'ai oublié mon mot de passe").unwrap().action, "clarify");
    // And a minimum score above any reachable one rejects everything.
    m.thresholds.min_score = 2.0;
    assert_eq!(m.classify("j'ai oublié mon mot de passe").unwrap().intent, NONE);
}

#[test]
fn reload_swaps_and_keeps_the_old_index_on_error() {
    let dir = fixture();
    let shared = SharedMatcher::load(dir.path()).unwrap();
    let before = shared.current();
    assert_eq!(before.topic_count(), 6);
    fs::remove_file(dir.path().join("horaires-3230.toml")).unwrap();
    shared.reload(dir.path()).unwrap();
    assert_eq!(shared.current().topic_count(), 5);
    assert_eq!(before.topic_count(), 6, "a snapshot taken before stays whole");
    fs::write(dir.path().join("rsa.toml"), "slug = \n").unwrap();
    let err = shared.reload(dir.path()).unwrap_err().to_string();
    assert!(err.contains("rsa.toml:1:"), "{err}");
    assert_eq!(shared.current().topic_count(), 5);
}

#[test]
fn a_half_heard_transcript_is_offered_not_refused_and_typed_text_is_refused() {
    let (_d, m) = matcher();
    // The topic's words came through, the rest was lost to the recognizer.
    let heard = "j'ai oublié mon mot de passe caisse jardin voisin";
    let typed = m.classify(heard).unwrap();
    assert_eq!((typed.intent.as_str(), typed.action.as_str()), (NONE, "fallback"), "{typed:?}");
    let spoken = m.classify_spoken(heard).unwrap();
    assert_eq!((spoken.intent.as_str(), spoken.action.as_str()), ("mot-de-passe-oublie", "confirm"), "{spoken:?}");
    // Out-of-scope speech stays refused: the topic must stand out, not merely occur.
    for text in ["", "euh", "bonjour", "je voudrais commander une pizza", "ma carte vitale est perdue", "quel temps fera-t-il demain"] {
        let d = m.classify_spoken(text).unwrap();
        assert_eq!((d.intent.as_str(), d.action.as_str()), (NONE, "fallback"), "{text:?}: {d:?}");
    }
}

#[test]
fn an_alternative_transcript_is_offered_only_when_the_best_one_is_refused() {
    let (_d, m) = matcher();
    let alts = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    // The best transcript lost the topic's word, its alternative kept it: offered, not answered.
    let d = m.classify_heard("j'ai droit au rasoir", &alts(&["j'ai droit au casse", "j'ai droit au rsa"])).unwrap();
    assert_eq!((d.intent.as_str(), d.action.as_str()), ("rsa", "confirm"), "{d:?}");
    assert_eq!(d.text, "j'ai droit au rasoir");
    assert!(d.runner_up.is_some());
    // An understood best transcript decides, whatever its alternatives say.
    let best = m.classify_spoken("j'ai oublié mon mot de passe").unwrap();
    let d = m.classify_heard("j'ai oublié mon mot de passe", &alts(&["j'ai droit au rsa"])).unwrap();
    assert_eq!(d, best);
    // A human request and out-of-scope alternatives change nothing.
    let d = m.classify_heard("je voudrais renouveler ma carte vitale", &alts(&["je voudrais renouveler mon rsa"])).unwrap();
    assert_eq!((d.intent.as_str(), d.action.as_str()), (NONE, "fallback"), "an out-of-scope phrasing stays refused: {d:?}");
    let d = m.classify_heard("euh", &alts(&["je veux parler à un conseiller"])).unwrap();
    assert_eq!(d.intent, NONE, "an alternative never transfers: {d:?}");
}
