//! The caller is identified the way the trunk asserts it: P-Asserted-Identity (RFC 3325)
//! before From, so a trunk that writes its own number in From does not make every call a
//! reiteration of the same caller; `Privacy: id` still means withheld. Checked on the
//! pseudonyms of the stored call records (closed-hours calls: short, no recognition).

mod conversation_common;

use std::time::Duration;

use conversation_common::{call, scenario_with_headers, Server, Step};
use ivr_accounting::chrono::{Days, Utc};
use ivr_accounting::{paris_day, Caller, Store};

#[test]
fn asserted_identity_names_the_caller_and_privacy_withholds_it() {
    let server = Server::start("force-closed", &["--asr-workers", "1", "--asr-threads", "1"]);
    // The trunk's own number in every From; the real callers in P-Asserted-Identity.
    let trunk = "0140000000";
    let calls: [(&str, &[&str]); 4] = [
        ("pai-a", &["P-Asserted-Identity: <sip:+33611111111@trunk.invalid;user=phone>"]),
        ("pai-b", &["P-Asserted-Identity: <tel:+33622222222>"]),
        ("pai-a-again", &["P-Asserted-Identity: \"A\" <sip:0611111111@trunk.invalid>, <tel:+33611111111>"]),
        ("pai-private", &["P-Asserted-Identity: <tel:+33633333333>", "Privacy: id"]),
    ];
    let pid = std::process::id();
    for (id, headers) in calls {
        let call_id = format!("{id}-{pid}");
        let xml = scenario_with_headers(trunk, 2, headers, &[Step::Pause(1500)]);
        let (ok, out) = call(&server, &call_id, &xml, Duration::from_secs(30));
        assert!(ok, "{id}: {out}\n{}", server.call_log(&call_id));
        assert!(server.wait_call_log(&call_id, "call record committed", Duration::from_secs(20)), "{id}: record not committed: {}", server.call_log(&call_id));
    }
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let records = rt.block_on(async {
        let store = Store::connect(&format!("sqlite://{}", server.db.display())).await.expect("open the database");
        let today = paris_day(Utc::now());
        let r = store.records(today - Days::new(1), today + Days::new(1), false).await.expect("records");
        store.close().await;
        r
    });
    let caller_of = |id: &str| -> Caller {
        let call_id = format!("{id}-{pid}");
        records.iter().find(|r| r.call_id.starts_with(&call_id)).map(|r| r.caller.clone()).unwrap_or_else(|| panic!("no record of {id}: {records:?}"))
    };
    let (a, b, a2, private) = (caller_of("pai-a"), caller_of("pai-b"), caller_of("pai-a-again"), caller_of("pai-private"));
    assert!(matches!(a, Caller::Pseudonym(_)), "{a:?}");
    assert_ne!(a, b, "two callers behind one trunk number are two callers");
    assert_eq!(a, a2, "the same asserted caller, written another way, is the same caller");
    assert_eq!(private, Caller::Withheld, "Privacy: id means withheld");
    // Nothing of the numbers in the log.
    let log = server.log_text();
    for n in ["611111111", "622222222", "633333333", "140000000"] {
        assert!(!log.contains(n), "{n} in the server log");
    }
}
