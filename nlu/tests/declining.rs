//! A caller declining after an answer ("non merci, c'est tout") names no topic: the
//! "non" of the reply must not meet the "non" of "attestation de non-paiement", which
//! would start the attestation procedure for a satisfied caller.

use std::path::PathBuf;

use nlu::knowledge::KnowledgeBase;
use nlu::Matcher;

fn matcher() -> Matcher {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../knowledge");
    let kb = KnowledgeBase::load(dir).unwrap_or_else(|e| panic!("{e}"));
    Matcher::build(&kb).unwrap()
}

#[test]
fn declining_replies_get_no_topic() {
    let m = matcher();
    for reply in ["non", "Non.", "non merci", "Non merci, c'est tout.", "non non", "non c'est bon", "non ça ira merci"] {
        let d = m.classify(reply).unwrap();
        assert!(d.intent.starts_with('@'), "{reply}: {d:?}");
    }
}

#[test]
fn the_attestation_is_still_found_by_its_name() {
    let m = matcher();
    for q in ["je voudrais une attestation de non-paiement", "attestation de non paiement", "un certificat de non allocataire"] {
        let d = m.classify(q).unwrap();
        assert_eq!(d.intent, "attestation-non-paiement", "{q}: {d:?}");
    }
}
