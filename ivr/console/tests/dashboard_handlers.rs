//! Dashboards, exports and call review through `tower::ServiceExt::oneshot` on a fresh
//! SQLite database holding a scripted day of calls (`scripted_day`): who may open which
//! page, the dashboard's figures and each export equal to what `ivr report` computes and
//! writes (the same library functions, called here directly), exports and call openings in
//! the audit log, and a call's timeline from the events written with `Store::write_batch`.

mod scripted_day;

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Request, Response, StatusCode};
use axum::Router;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use http_body_util::BodyExt;
use ivr_accounting::export::{self, ExportFormat};
use ivr_accounting::report::{self, Format, Period};
use ivr_accounting::review::call_ref;
use ivr_accounting::{days, AccountingConfig, Role, Store};
use ivr_console::{AppState, ConsoleConfig, Health};
use tower::ServiceExt;

struct Console {
    store: Store,
    app: Router,
    rule: ivr_accounting::Sc32Rule,
    /// Session token and CSRF token per role.
    sessions: Vec<(Role, String, String)>,
    _dir: tempfile::TempDir,
}

fn day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 3, 2).unwrap()
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 17, 0, 0).unwrap()
}

impl Console {
    async fn new() -> Console {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::connect(&format!("sqlite://{}", dir.path().join("c.sqlite").display())).await.unwrap();
        let acc = AccountingConfig::default();
        scripted_day::write(&store, &acc.sc32, day()).await;
        let mut state = AppState::new(
            Some(store.clone()),
            ConsoleConfig::default(),
            false,
            Health { version: "t", sip_up: Arc::new(AtomicBool::new(true)), content_version: Default::default() },
        )
        .with_accounting(acc.clone());
        state.clock = Arc::new(now);
        let mut sessions = Vec::new();
        for role in [Role::Editor, Role::Agent, Role::Analyst, Role::Supervisor, Role::Admin] {
            let id = store.create_account(&format!("user.{}", role.as_str()), role, "unused-hash", now()).await.unwrap().unwrap();
            let (token, csrf) = (format!("{:0>64}", role.as_str()), format!("{:f>64}", role.as_str()));
            store.create_session(id, &token, &csrf, now()).await.unwrap();
            sessions.push((role, token, csrf));
        }
        Console { store, app: ivr_console::router(state), rule: acc.sc32, sessions, _dir: dir }
    }

    fn session(&self, role: Role) -> (&str, &str) {
        let s = self.sessions.iter().find(|s| s.0 == role).unwrap();
        (&s.1, &s.2)
    }

    async fn send(&self, req: Request<Body>) -> (Response<Body>, String) {
        let res = self.app.clone().oneshot(req).await.unwrap();
        let (parts, body) = res.into_parts();
        let bytes = body.collect().await.unwrap().to_bytes();
        (Response::from_parts(parts, Body::empty()), String::from_utf8_lossy(&bytes).into_owned())
    }

    async fn get(&self, role: Role, path: &str) -> (Response<Body>, String) {
        let (token, _) = self.session(role);
        self.send(Request::get(path).header(header::COOKIE, format!("ivr_session={token}")).body(Body::empty()).unwrap()).await
    }

    /// Posts the export form as `role`, with its CSRF token unless `csrf` says otherwise.
    async fn export(&self, role: Role, form: &str, csrf: Option<&str>) -> (Response<Body>, String) {
        let (token, own) = self.session(role);
        let body = format!("csrf={}&{form}", csrf.unwrap_or(own));
        let req = Request::post("/tableaux/export")
            .header(header::COOKIE, format!("ivr_session={token}"))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .unwrap();
        self.send(req).await
    }

    async fn audit(&self) -> Vec<(String, String, String, String)> {
        let mut v: Vec<_> = self.store.audit_entries(1000).await.unwrap().into_iter().map(|e| (e.actor, e.action, e.target, e.detail)).collect();
        v.reverse();
        v
    }
}

/// The `data-valeur` of the element with `id` on a page.
fn data_value(page: &str, id: &str) -> f64 {
    let at = page.find(&format!("id=\"{id}\" data-valeur=\"")).unwrap_or_else(|| panic!("no #{id} in {page}"));
    let rest = &page[at + id.len() + 19..];
    rest.split('"').next().unwrap().parse().unwrap()
}

#[tokio::test]
async fn each_role_sees_only_its_pages() {
    let c = Console::new().await;
    let status = |r: &(Response<Body>, String)| r.0.status();
    // Editors and agents: neither the dashboards nor the calls.
    for role in [Role::Editor, Role::Agent] {
        assert_eq!(status(&c.get(role, "/tableaux").await), StatusCode::FORBIDDEN, "{role:?} /tableaux");
        assert_eq!(status(&c.get(role, "/appels").await), StatusCode::FORBIDDEN, "{role:?} /appels");
    }
    // Analysts: the dashboards and the exports, never a call's content.
    let (res, page) = c.get(Role::Analyst, "/tableaux").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(page.contains("action=\"/tableaux/export\""), "the analyst can export");
    assert!(page.contains("href=\"/tableaux\"") && !page.contains("href=\"/appels\""), "navigation of the analyst");
    assert_eq!(status(&c.get(Role::Analyst, "/appels").await), StatusCode::FORBIDDEN);
    let reference = call_ref(&scripted_day::call_id(day(), "listen"), day());
    assert_eq!(status(&c.get(Role::Analyst, &format!("/appels/{reference}")).await), StatusCode::FORBIDDEN);
    // Supervisors: the dashboards (without exports) and the calls.
    let (res, page) = c.get(Role::Supervisor, "/tableaux").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(!page.contains("action=\"/tableaux/export\""), "no export form for a supervisor");
    assert_eq!(status(&c.export(Role::Supervisor, "du=2026-03-01&au=2026-03-02&par=jour&format=chiffres-csv", None).await), StatusCode::FORBIDDEN);
    assert_eq!(status(&c.get(Role::Supervisor, "/appels").await), StatusCode::OK);
    // Admins: everything.
    assert_eq!(status(&c.get(Role::Admin, "/tableaux").await), StatusCode::OK);
    assert_eq!(status(&c.get(Role::Admin, "/appels?jour=2026-03-02").await), StatusCode::OK);
    // Without a session: the login page.
    let (res, _) = c.send(Request::get("/tableaux").body(Body::empty()).unwrap()).await;
    assert_eq!(res.headers().get(header::LOCATION).unwrap(), "/connexion");
    assert!(!c.audit().await.iter().any(|a| a.1 == "report-export"), "a refused export is not audited as done");
}

#[tokio::test]
async fn the_dashboard_shows_the_figures_of_ivr_report() {
    let c = Console::new().await;
    let from = day().pred_opt().unwrap();
    let (res, page) = c.get(Role::Analyst, "/tableaux?du=2026-03-01&au=2026-03-02&par=jour").await;
    assert_eq!(res.status(), StatusCode::OK);
    let r = report::build(&c.store, &c.rule, from, day(), Period::Day, None).await.unwrap();
    assert_eq!(r.total.calls, 5 + 1, "five calls recorded on the day, one the day before (the open call is not counted)");
    assert_eq!(r.total.productive, 2);
    assert_eq!(data_value(&page, "heures-productives"), r.total.productive_hours);
    assert_eq!(data_value(&page, "appels"), r.total.calls as f64);
    assert_eq!(data_value(&page, "productifs"), r.total.productive as f64);
    // One closed day, one provisional: both marked, in the table and the chart.
    assert!(page.contains("<td>clos</td>") && page.contains("<td>provisoire</td>"), "{page}");
    assert!(page.contains("role=\"img\"") && page.contains("Heures productives SC3.2") && page.contains("non clos (provisoire)"));
    // Transfers by reason, per flow, per topic.
    assert!(page.contains("keypad0") && page.contains("choix 3") && page.contains("<th scope=\"row\">rsa</th>"), "{page}");
    // Per week and per month: one period each here, the same totals.
    for par in ["semaine", "mois"] {
        let (_, page) = c.get(Role::Analyst, &format!("/tableaux?du=2026-03-01&au=2026-03-02&par={par}")).await;
        assert_eq!(data_value(&page, "heures-productives"), r.total.productive_hours, "{par}");
    }
    // A period that cannot be read is said, and the default one is shown.
    let (res, page) = c.get(Role::Analyst, "/tableaux?du=2026-03-05&au=2026-03-01").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(page.contains("La date de fin est avant la date de début."), "{page}");
}

#[tokio::test]
async fn exports_are_the_files_of_ivr_report_and_are_audited() {
    let c = Console::new().await;
    let from = day().pred_opt().unwrap();
    let figures = report::build(&c.store, &c.rule, from, day(), Period::Day, None).await.unwrap();
    let weekly = report::build(&c.store, &c.rule, from, day(), Period::Week, None).await.unwrap();
    let cases = [
        ("chiffres-csv", "jour", report::render(&figures, Format::Csv), "text/csv; charset=utf-8", "sc32-chiffres-2026-03-01_2026-03-02-jour.csv"),
        ("chiffres-xml", "jour", report::render(&figures, Format::Xml), "application/xml; charset=utf-8", "sc32-chiffres-2026-03-01_2026-03-02-jour.xml"),
        ("chiffres-json", "semaine", report::render(&weekly, Format::Json), "application/json", "sc32-chiffres-2026-03-01_2026-03-02-semaine.json"),
        (
            "appels-csv",
            "jour",
            export::export(&c.store, &c.rule, from, day(), ExportFormat::Csv).await.unwrap(),
            "text/csv; charset=utf-8",
            "sc32-appels-2026-03-01_2026-03-02.csv",
        ),
        (
            "appels-xml",
            "jour",
            export::export(&c.store, &c.rule, from, day(), ExportFormat::Xml).await.unwrap(),
            "application/xml; charset=utf-8",
            "sc32-appels-2026-03-01_2026-03-02.xml",
        ),
    ];
    for (format, par, expected, ctype, file) in &cases {
        let (res, body) = c.export(Role::Analyst, &format!("du=2026-03-01&au=2026-03-02&par={par}&format={format}"), None).await;
        assert_eq!(res.status(), StatusCode::OK, "{format}: {body}");
        assert_eq!(&body, expected, "{format}: the bytes of ivr report");
        assert_eq!(res.headers().get(header::CONTENT_TYPE).unwrap(), ctype);
        assert_eq!(res.headers().get(header::CONTENT_DISPOSITION).unwrap().to_str().unwrap(), format!("attachment; filename=\"{file}\""));
    }
    assert!(cases[3].2.lines().count() == 7, "six recorded calls and the header: {}", cases[3].2);
    let exports: Vec<_> = c.audit().await.into_iter().filter(|a| a.1 == "report-export").collect();
    assert_eq!(exports.len(), cases.len());
    for ((actor, _, target, detail), (format, par, ..)) in exports.iter().zip(&cases) {
        assert_eq!(actor, "user.analyst");
        assert_eq!(target, "2026-03-01..2026-03-02");
        assert_eq!(detail, &format!("format={format} par={par}"));
    }
    // A wrong CSRF token, an unknown format, a bad period: nothing exported, nothing audited.
    let (res, _) = c.export(Role::Analyst, "du=2026-03-01&au=2026-03-02&par=jour&format=chiffres-csv", Some("forged")).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let (res, _) = c.export(Role::Analyst, "du=2026-03-01&au=2026-03-02&par=jour&format=xlsx", None).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let (res, _) = c.export(Role::Admin, "du=2026-03-03&au=2026-03-02&par=jour&format=chiffres-csv", None).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(c.audit().await.iter().filter(|a| a.1 == "report-export").count(), cases.len());
}

#[tokio::test]
async fn a_supervisor_reviews_a_call_from_its_events() {
    let c = Console::new().await;
    let (res, list) = c.get(Role::Supervisor, "/appels?jour=2026-03-02").await;
    assert_eq!(res.status(), StatusCode::OK);
    let refs: Vec<String> =
        ["listen", "agent", "early1", "early2", "barge", "open"].iter().map(|n| call_ref(&scripted_day::call_id(day(), n), day())).collect();
    for r in &refs {
        assert!(list.contains(&format!("href=\"/appels/{r}\"")), "{r} listed: {list}");
    }
    assert!(list.contains("transfert vers un conseiller (keypad0)") && list.contains("en cours ou non encore enregistré"), "{list}");
    assert!(!list.contains(scripted_day::RSA_QUESTION), "the list shows no transcript");
    // The call that heard its answer: the timeline and why it is productive.
    let (res, page) = c.get(Role::Supervisor, &format!("/appels/{}", refs[0])).await;
    assert_eq!(res.status(), StatusCode::OK);
    for text in [
        scripted_day::RSA_QUESTION,
        "<code>rsa</code>",
        "score 0,87",
        "Réponse diffusée",
        "écouté à 100,0",
        "Productif",
        "résultat provisoire",
        "Fin de l'appel",
    ] {
        assert!(page.contains(text), "{text} missing: {page}");
    }
    assert!(!page.contains("aaaaaaaa11111111") && !page.contains("trunk.example"), "neither the pseudonym nor the Call-ID is shown");
    // The call that barged in: the cut answer, the barge-in, why it is not productive.
    let (_, page) = c.get(Role::Supervisor, &format!("/appels/{}", refs[4])).await;
    for text in ["Interruption", "interrompu par l'appelant", "écouté à 33,3", "Non productif", "Aucune réponse entendue à plus de 75,0", "numéro masqué"]
    {
        assert!(page.contains(text), "{text} missing: {page}");
    }
    // The keypad transfer: the key (not the digit) and the reason.
    let (_, page) = c.get(Role::Supervisor, &format!("/appels/{}", refs[1])).await;
    assert!(page.contains("Touche pressée") && page.contains("motif : <code>keypad0</code>") && page.contains("transféré vers un conseiller"), "{page}");
    // The reiterated caller's first call.
    let (_, page) = c.get(Role::Supervisor, &format!("/appels/{}", refs[2])).await;
    assert!(page.contains("rappelé le même jour (réitération)"), "{page}");
    // The call still in progress: its events, no outcome yet.
    let (_, page) = c.get(Role::Supervisor, &format!("/appels/{}", refs[5])).await;
    assert!(page.contains(scripted_day::OPEN_QUESTION) && page.contains("Appel en cours"), "{page}");
    // Every opening is audited, naming only the reference.
    let opened: Vec<_> = c.audit().await.into_iter().filter(|a| a.1 == "call-review-open").map(|a| (a.0, a.2, a.3)).collect();
    assert_eq!(opened.len(), 5);
    assert_eq!(opened[0], ("user.supervisor".to_string(), format!("call:{}", refs[0]), String::new()));
    // Unknown or malformed references: 404, not audited.
    for bad in ["20260302-00000000", "nimporte", "20260302-ABCDEF12"] {
        assert_eq!(c.get(Role::Supervisor, &format!("/appels/{bad}")).await.0.status(), StatusCode::NOT_FOUND, "{bad}");
    }
    assert_eq!(c.audit().await.iter().filter(|a| a.1 == "call-review-open").count(), 5);
    // After the retention purge the transcript is gone and the page says so.
    let cfg = AccountingConfig::default();
    days::purge(&c.store, &cfg, Utc.with_ymd_and_hms(2026, 5, 1, 12, 0, 0).unwrap()).await.unwrap();
    let (_, page) = c.get(Role::Supervisor, &format!("/appels/{}", refs[0])).await;
    assert!(!page.contains(scripted_day::RSA_QUESTION) && page.contains("transcription effacée après 30 jours"), "{page}");
}
