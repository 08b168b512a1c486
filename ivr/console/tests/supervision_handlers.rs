//! The supervisors' pages and `/metrics` through `tower::ServiceExt::oneshot` on a fresh
//! SQLite database: roles (an analyst is refused), switches set in the database and
//! audited, CSRF checked, closures added and removed with their audit rows, the live view
//! built from heartbeat rows (stale instances hidden, no caller data), `/metrics` refused
//! to a remote peer without the token and served with it, its exposition parsed, and the
//! Prometheus and Grafana examples checked against the metric names actually emitted.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, Request, Response, StatusCode};
use axum::Router;
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use http_body_util::BodyExt;
use ivr_accounting::{InstanceBeat, LiveCall, Role, Store, SwitchFlags};
use ivr_console::{password, AppState, ConsoleConfig, Health};
use tower::ServiceExt;

const PASSWORD: &str = "Correct-Cheval-42";
const TOKEN: &str = "s3cret-scrape-token-0123456789";

struct Console {
    store: Store,
    now: Arc<Mutex<DateTime<Utc>>>,
    app: Router,
    _dir: tempfile::TempDir,
}

impl Console {
    async fn new() -> Console {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::connect(&format!("sqlite://{}", dir.path().join("c.sqlite").display())).await.unwrap();
        let now = Arc::new(Mutex::new(Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap()));
        let clock_now = now.clone();
        let cfg = ConsoleConfig { metrics_token: Some(TOKEN.into()), ..ConsoleConfig::default() };
        let mut state = AppState::new(
            Some(store.clone()),
            cfg,
            false,
            Health { version: "9.9.9", sip_up: Arc::new(AtomicBool::new(true)), content_version: Default::default() },
        );
        state.clock = Arc::new(move || *clock_now.lock().unwrap());
        let hash = password::hash(PASSWORD).unwrap();
        for (name, role) in [("ana.lyste", Role::Analyst), ("sup.ervision", Role::Supervisor), ("admin", Role::Admin)] {
            store.create_account(name, role, &hash, Utc::now()).await.unwrap().unwrap();
        }
        Console { store, now, app: ivr_console::router(state), _dir: dir }
    }

    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap()
    }

    async fn send(&self, req: Request<Body>) -> (Response<Body>, String) {
        let res = self.app.clone().oneshot(req).await.unwrap();
        let (parts, body) = res.into_parts();
        let bytes = body.collect().await.unwrap().to_bytes();
        (Response::from_parts(parts, Body::empty()), String::from_utf8_lossy(&bytes).into_owned())
    }

    async fn get(&self, path: &str, session: &str) -> (Response<Body>, String) {
        self.send(Request::get(path).header(header::COOKIE, format!("ivr_session={session}")).body(Body::empty()).unwrap()).await
    }

    async fn post(&self, path: &str, cookie: &str, form: &str) -> (Response<Body>, String) {
        let req = Request::post(path)
            .header(header::COOKIE, cookie)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(form.to_string()))
            .unwrap();
        self.send(req).await
    }

    /// Logs in through the form; returns the session token and its CSRF token.
    async fn session(&self, name: &str) -> (String, String) {
        let (res, body) = self.send(Request::get("/connexion").body(Body::empty()).unwrap()).await;
        let login_cookie = set_cookie(&res, "ivr_login").expect("login cookie");
        let form = format!("name={name}&password={PASSWORD}&csrf={}", csrf_of(&body));
        let (res, _) = self.post("/connexion", &format!("ivr_login={login_cookie}"), &form).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "login of {name}");
        let session = set_cookie(&res, "ivr_session").expect("session cookie");
        let (_, home) = self.get("/", &session).await;
        (session.clone(), csrf_of(&home))
    }

    async fn audit(&self) -> Vec<(String, String, String, String)> {
        let mut v: Vec<_> = self.store.audit_entries(1000).await.unwrap().into_iter().map(|e| (e.actor, e.action, e.target, e.detail)).collect();
        v.reverse();
        v
    }

    async fn metrics(&self, peer: Option<&str>, bearer: Option<&str>) -> (StatusCode, String) {
        let mut req = Request::get("/metrics");
        if let Some(t) = bearer {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let mut req = req.body(Body::empty()).unwrap();
        if let Some(p) = peer {
            req.extensions_mut().insert(ConnectInfo(p.parse::<SocketAddr>().unwrap()));
        }
        let (res, body) = self.send(req).await;
        (res.status(), body)
    }
}

fn csrf_of(body: &str) -> String {
    let at = body.find("name=\"csrf\" value=\"").expect("csrf field") + "name=\"csrf\" value=\"".len();
    body[at..].split('"').next().unwrap().to_string()
}

fn set_cookie(res: &Response<Body>, name: &str) -> Option<String> {
    res.headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.split(';').next().and_then(|kv| kv.split_once('=')).filter(|(k, _)| *k == name).map(|(_, v)| v.to_string()))
        .filter(|v| !v.is_empty())
}

#[tokio::test]
async fn an_analyst_cannot_touch_the_switches_and_a_supervisor_can() {
    let c = Console::new().await;
    let (ana, ana_csrf) = c.session("ana.lyste").await;
    for path in ["/supervision", "/supervision/direct", "/supervision/interrupteurs", "/supervision/calendrier"] {
        assert_eq!(c.get(path, &ana).await.0.status(), StatusCode::FORBIDDEN, "{path} for an analyst");
    }
    let (res, _) = c.post("/supervision/interrupteurs", &format!("ivr_session={ana}"), &format!("csrf={ana_csrf}&name=crisis&state=on")).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(c.store.switch_state().await.unwrap().flags, SwitchFlags::default(), "nothing changed");

    let (sup, csrf) = c.session("sup.ervision").await;
    let (res, page) = c.get("/supervision/interrupteurs", &sup).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(page.contains("Information importante") || page.contains("prompts/prompts.toml"), "the crisis text or where it lives");
    assert!(page.contains("href=\"/contenu\""), "editing the text is the editors' page");
    // A wrong CSRF token changes nothing.
    let (res, _) = c.post("/supervision/interrupteurs", &format!("ivr_session={sup}"), "csrf=forged&name=crisis&state=on").await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(!c.store.switch_state().await.unwrap().flags.crisis);

    let (res, _) = c.post("/supervision/interrupteurs", &format!("ivr_session={sup}"), &format!("csrf={csrf}&name=crisis&state=on")).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (res, _) = c.post("/supervision/interrupteurs", &format!("ivr_session={sup}"), &format!("csrf={csrf}&name=saturation&state=on")).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let s = c.store.switch_state().await.unwrap();
    assert_eq!(s.flags, SwitchFlags { saturation: true, crisis: true, closed: false });
    assert_eq!(s.set_by.as_deref(), Some("sup.ervision"));
    let switch_rows: Vec<_> = c.audit().await.into_iter().filter(|a| a.1 == "switch-set").collect();
    assert_eq!(
        switch_rows,
        vec![
            ("sup.ervision".into(), "switch-set".into(), "switches".into(), "saturation=off crisis=on closed=off".into()),
            ("sup.ervision".into(), "switch-set".into(), "switches".into(), "saturation=on crisis=on closed=off".into()),
        ]
    );
    // An unknown switch or state is refused and not audited.
    let (res, _) = c.post("/supervision/interrupteurs", &format!("ivr_session={sup}"), &format!("csrf={csrf}&name=crisi&state=on")).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(c.audit().await.iter().filter(|a| a.1 == "switch-set").count(), 2);
    let (_, page) = c.get("/supervision/interrupteurs", &sup).await;
    assert!(page.contains("Désactiver<span class=\"visually-hidden\"> : Message de crise"), "the page shows the crisis switch on");
}

#[tokio::test]
async fn closures_are_added_and_removed_with_an_audit_row_each() {
    let c = Console::new().await;
    let (sup, csrf) = c.session("sup.ervision").await;
    let cookie = format!("ivr_session={sup}");
    let (res, page) = c.get("/supervision/calendrier", &sup).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(page.contains("Lundi de Pâques") && page.contains("2027"), "this year's and next year's holidays");
    assert!(page.contains("lundi 06/04/2026"), "Easter Monday 2026");

    let (res, _) = c.post("/supervision/calendrier/fermetures", &cookie, &format!("csrf={csrf}&first=2026-05-15&last=&label=Pont+de+l%27Ascension")).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (res, _) = c.post("/supervision/calendrier/fermetures", &cookie, &format!("csrf={csrf}&first=2026-08-14&last=2026-08-10&label=Travaux")).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    // Refused: bad date, wholly past, no label; none is stored or audited.
    for form in ["first=15/05/2026&label=x", "first=2026-01-05&label=Pass%C3%A9e", "first=2026-06-01&label=+"] {
        let (res, body) = c.post("/supervision/calendrier/fermetures", &cookie, &format!("csrf={csrf}&{form}")).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{form}");
        assert!(body.contains("role=\"alert\""), "{form}: the reason is shown");
    }
    let closures = c.store.closures(None).await.unwrap();
    assert_eq!(closures.len(), 2);
    assert_eq!((closures[1].first, closures[1].last), (NaiveDate::from_ymd_opt(2026, 8, 10).unwrap(), NaiveDate::from_ymd_opt(2026, 8, 14).unwrap()));
    let (_, page) = c.get("/supervision/calendrier", &sup).await;
    assert!(page.contains("Pont de l&#39;Ascension") || page.contains("Pont de l'Ascension"));
    assert!(page.contains("du lundi 10/08/2026 au vendredi 14/08/2026"));

    let id = closures[0].id;
    let (res, _) = c.post(&format!("/supervision/calendrier/fermetures/{id}/suppression"), &cookie, "csrf=forged").await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let (res, _) = c.post(&format!("/supervision/calendrier/fermetures/{id}/suppression"), &cookie, &format!("csrf={csrf}")).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (res, _) = c.post(&format!("/supervision/calendrier/fermetures/{id}/suppression"), &cookie, &format!("csrf={csrf}")).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND, "already removed");
    assert_eq!(c.store.closures(None).await.unwrap().len(), 1);
    let rows: Vec<_> = c.audit().await.into_iter().filter(|a| a.1.starts_with("closure-")).map(|a| (a.1, a.2, a.3)).collect();
    assert_eq!(
        rows,
        vec![
            ("closure-add".into(), "closure:2026-05-15..2026-05-15".into(), "Pont de l'Ascension".into()),
            ("closure-add".into(), "closure:2026-08-10..2026-08-14".into(), "Travaux".into()),
            ("closure-remove".into(), "closure:2026-05-15..2026-05-15".into(), "Pont de l'Ascension".into()),
        ]
    );
}

#[tokio::test]
async fn the_live_view_shows_fresh_instances_and_their_calls_without_caller_data() {
    let c = Console::new().await;
    let now = c.now();
    let call = LiveCall {
        reference: "7f3a9c21".into(),
        flow: 3,
        state: "recognizing".into(),
        topic: Some("aide-logement".into()),
        started: now - Duration::seconds(75),
    };
    let fresh = InstanceBeat {
        name: "ivr-a:5060".into(),
        started: now - Duration::hours(2),
        updated: now - Duration::seconds(1),
        sip_up: true,
        calls: vec![call],
        asr_queue: 2,
        asr_p50_ms: Some(410),
        asr_p95_ms: Some(1290),
        content: None,
    };
    let stale = InstanceBeat { name: "ivr-old:5060".into(), updated: now - Duration::seconds(30), calls: vec![], ..fresh.clone() };
    c.store.heartbeat(&fresh).await.unwrap();
    c.store.heartbeat(&stale).await.unwrap();
    c.store.set_switches(SwitchFlags { crisis: true, ..Default::default() }, "sup.ervision", now).await.unwrap();

    let (sup, _) = c.session("sup.ervision").await;
    let (res, page) = c.get("/supervision", &sup).await;
    assert_eq!(res.status(), StatusCode::OK);
    for shown in ["7f3a9c21", "ivr-a:5060", "choix 3", "reconnaissance", "aide-logement", "1:15", "410 ms", "1290 ms", "Messages actifs : crise"] {
        assert!(page.contains(shown), "{shown} on the page");
    }
    assert!(!page.contains("ivr-old"), "an instance silent for 30 s is not shown");
    assert!(page.contains("<script src=\"/supervision/direct.js\""), "our own script, no inline one");
    assert!(!page.contains("<script>"), "no inline script");
    assert!(page.contains("<noscript>"));
    let (res, fragment) = c.get("/supervision/direct", &sup).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(fragment.contains("7f3a9c21") && !fragment.contains("<html"), "the fragment is the live part only");
    let (res, js) = c.send(Request::get("/supervision/direct.js").body(Body::empty()).unwrap()).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/javascript"));
    assert!(js.contains("/supervision/direct") || js.contains("data-source"));
    assert!(res.headers()[header::CONTENT_SECURITY_POLICY].to_str().unwrap().starts_with("default-src 'self'"));
    // The admin sees it too; the home page links it for both.
    let (admin, _) = c.session("admin").await;
    assert_eq!(c.get("/supervision", &admin).await.0.status(), StatusCode::OK);
    assert!(c.get("/", &sup).await.1.contains("href=\"/supervision\""));
}

#[tokio::test]
async fn metrics_are_for_loopback_or_the_token_and_parse() {
    let c = Console::new().await;
    ivr_console::metrics::global().calls_ended.inc("caller");
    ivr_console::metrics::global().answer_latency.observe_ms(800);
    assert_eq!(c.metrics(None, None).await.0, StatusCode::FORBIDDEN, "unknown peer");
    assert_eq!(c.metrics(Some("192.0.2.10:40000"), None).await.0, StatusCode::FORBIDDEN, "remote peer without the token");
    assert_eq!(c.metrics(Some("192.0.2.10:40000"), Some("wrong")).await.0, StatusCode::FORBIDDEN, "wrong token");
    let (status, text) = c.metrics(Some("192.0.2.10:40000"), Some(TOKEN)).await;
    assert_eq!(status, StatusCode::OK, "remote peer with the token");
    let (status, local) = c.metrics(Some("127.0.0.1:40000"), None).await;
    assert_eq!(status, StatusCode::OK, "loopback");
    assert_eq!(c.metrics(Some("[::1]:40000"), None).await.0, StatusCode::OK, "IPv6 loopback");
    for t in [&text, &local] {
        let (families, samples) = ivr_console::metrics::parse(t).unwrap_or_else(|e| panic!("{e}\n{t}"));
        assert!(families.contains_key("ivr_calls_active") && families.contains_key("ivr_answer_latency_seconds"));
        assert!(samples.iter().any(|s| s.name == "ivr_calls_ended_total" && s.labels.get("outcome").map(String::as_str) == Some("caller") && s.value >= 1.0));
        assert!(samples.iter().any(|s| s.name == "ivr_answer_latency_seconds_count" && s.value >= 1.0));
    }
}

/// The metric families the exporter emits (once every labelled family has a sample).
fn emitted_families() -> BTreeSet<String> {
    let m = ivr_console::metrics::global();
    m.matcher_decisions.inc("answer");
    m.calls_ended.inc("bot");
    let (families, _) = ivr_console::metrics::parse(&m.render()).unwrap();
    families.into_keys().collect()
}

/// Metric names in a PromQL expression: `ivr_…` words, histogram suffixes folded to their family.
fn metric_names(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    let bytes = expr.as_bytes();
    let mut i = 0;
    while let Some(at) = expr[i..].find("ivr_") {
        let start = i + at;
        let mut end = start;
        while end < bytes.len() && (bytes[end].is_ascii_alphanumeric() || bytes[end] == b'_') {
            end += 1;
        }
        let boundary = start == 0 || !(bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_');
        if boundary {
            let name = &expr[start..end];
            let family = ["_bucket", "_sum", "_count"].iter().find_map(|s| name.strip_suffix(s)).unwrap_or(name);
            out.push(family.to_string());
        }
        i = end;
    }
    out
}

#[test]
fn the_grafana_dashboard_uses_only_emitted_metrics() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../contrib/grafana/ivr-dashboard.json");
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let emitted = emitted_families();
    let panels = json["panels"].as_array().expect("panels");
    assert!(panels.len() >= 8, "a dashboard, not a stub");
    let mut used = BTreeSet::new();
    for p in panels {
        let targets = p["targets"].as_array().unwrap_or_else(|| panic!("panel {} has targets", p["title"]));
        for t in targets {
            let expr = t["expr"].as_str().expect("expr");
            let names = metric_names(expr);
            assert!(!names.is_empty(), "{expr}: names no metric");
            for n in names {
                assert!(emitted.contains(&n), "panel {}: {n} is not emitted (emitted: {emitted:?})", p["title"]);
                used.insert(n);
            }
        }
    }
    let unused: Vec<_> = emitted.difference(&used).collect();
    assert!(unused.is_empty(), "every emitted family has a panel: {unused:?}");
}

#[test]
fn the_prometheus_example_scrapes_metrics_with_the_token() {
    // No YAML parser in the workspace: the example is kept minimal and checked by lines.
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../contrib/prometheus/prometheus.yml");
    let text = std::fs::read_to_string(path).unwrap();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty()).collect();
    for l in &lines {
        assert!(!l.contains('\t'), "YAML indents with spaces: {l:?}");
        assert!((l.len() - l.trim_start().len()) % 2 == 0, "two-space indentation: {l:?}");
        let t = l.trim_start();
        assert!(t.starts_with("- ") || t.contains(':'), "a key or a list item: {l:?}");
    }
    let has = |needle: &str| lines.iter().any(|l| l.trim() == needle);
    assert!(has("scrape_configs:"));
    assert!(has("- job_name: ivr"));
    assert!(has("metrics_path: /metrics"));
    assert!(has("type: Bearer"));
    assert!(
        lines.iter().any(|l| l.trim().starts_with("- ") && l.contains(':') && l.trim().rsplit(':').next().is_some_and(|p| p.parse::<u16>().is_ok())),
        "a host:port target"
    );
}
