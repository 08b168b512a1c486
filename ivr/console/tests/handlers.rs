//! The console's handlers through `tower::ServiceExt::oneshot` on a fresh SQLite database:
//! login and logout, a wrong password, throttling and lockout, the idle timeout, roles,
//! CSRF rejection, the requests queue (open audited, handled audited), the audit page
//! seeing a tampered chain, and the security headers.

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{header, Request, Response, StatusCode};
use axum::Router;
use chrono::{DateTime, Duration, TimeZone, Utc};
use http_body_util::BodyExt;
use ivr_accounting::{Flow, NewRequest, RequestKind, RequestStatus, Role, Store};
use ivr_console::{password, AppState, ConsoleConfig, Health};
use tower::ServiceExt;

const PASSWORD: &str = "Correct-Cheval-42";

struct Console {
    store: Store,
    now: Arc<Mutex<DateTime<Utc>>>,
    app: Router,
    _dir: tempfile::TempDir,
}

impl Console {
    async fn new(tls: bool) -> Console {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::connect(&format!("sqlite://{}", dir.path().join("c.sqlite").display())).await.unwrap();
        let now = Arc::new(Mutex::new(Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap()));
        let clock_now = now.clone();
        let mut state = AppState::new(
            Some(store.clone()),
            ConsoleConfig::default(),
            tls,
            Health { version: "9.9.9", sip_up: Arc::new(AtomicBool::new(true)), content_version: Default::default() },
        );
        state.clock = Arc::new(move || *clock_now.lock().unwrap());
        let hash = password::hash(PASSWORD).unwrap();
        for (name, role) in [("agent.dupont", Role::Agent), ("ana.lyste", Role::Analyst), ("admin", Role::Admin), ("sup.ervision", Role::Supervisor)] {
            store.create_account(name, role, &hash, Utc::now()).await.unwrap().unwrap();
        }
        Console { store, now, app: ivr_console::router(state), _dir: dir }
    }

    fn advance(&self, d: Duration) {
        *self.now.lock().unwrap() += d;
    }

    async fn send(&self, req: Request<Body>) -> (Response<Body>, String) {
        let res = self.app.clone().oneshot(req).await.unwrap();
        let (parts, body) = res.into_parts();
        let bytes = body.collect().await.unwrap().to_bytes();
        (Response::from_parts(parts, Body::empty()), String::from_utf8_lossy(&bytes).into_owned())
    }

    async fn get(&self, path: &str, session: Option<&str>) -> (Response<Body>, String) {
        let mut b = Request::get(path);
        if let Some(s) = session {
            b = b.header(header::COOKIE, format!("ivr_session={s}"));
        }
        self.send(b.body(Body::empty()).unwrap()).await
    }

    async fn post(&self, path: &str, cookie: &str, form: &str) -> (Response<Body>, String) {
        let req = Request::post(path)
            .header(header::COOKIE, cookie)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(form.to_string()))
            .unwrap();
        self.send(req).await
    }

    /// One login attempt through the form: the response and the session token if any.
    async fn login(&self, name: &str, pw: &str) -> (Response<Body>, String, Option<String>) {
        let (res, body) = self.get("/connexion", None).await;
        let login_cookie = set_cookie(&res, "ivr_login").expect("login cookie");
        let csrf = csrf_of(&body);
        assert_eq!(csrf, login_cookie, "double-submit token");
        let form = format!("name={name}&password={}&csrf={csrf}", urlencode(pw));
        let (res, body) = self.post("/connexion", &format!("ivr_login={login_cookie}"), &form).await;
        let session = set_cookie(&res, "ivr_session").filter(|v| !v.is_empty());
        (res, body, session)
    }

    async fn session(&self, name: &str) -> String {
        let (res, _, s) = self.login(name, PASSWORD).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        s.expect("session cookie")
    }

    /// The CSRF token of the session's forms (from the home page's logout form).
    async fn csrf(&self, session: &str) -> String {
        let (_, body) = self.get("/", Some(session)).await;
        csrf_of(&body)
    }

    async fn actions(&self) -> Vec<(String, String, String)> {
        let mut v: Vec<_> = self.store.audit_entries(1000).await.unwrap().into_iter().map(|e| (e.actor, e.action, e.target)).collect();
        v.reverse();
        v
    }
}

fn urlencode(s: &str) -> String {
    s.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
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
}

fn set_cookie_line(res: &Response<Body>, name: &str) -> String {
    res.headers().get_all(header::SET_COOKIE).iter().filter_map(|v| v.to_str().ok()).find(|v| v.starts_with(&format!("{name}="))).unwrap().to_string()
}

fn location(res: &Response<Body>) -> &str {
    res.headers().get(header::LOCATION).and_then(|v| v.to_str().ok()).unwrap_or("")
}

async fn add_request(store: &Store) -> i64 {
    store
        .insert_request(&NewRequest {
            kind: RequestKind::Rappel,
            call_id: "call-42@trunk".into(),
            flow: Flow::Choix2,
            at: Utc.with_ymd_and_hms(2026, 3, 2, 8, 30, 0).unwrap(),
            topic: Some("@none".into()),
            keyed: "0612345678".into(),
            transcript: "Paul Durand, rappel pour l'aide au logement".into(),
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn healthz_and_security_headers() {
    let c = Console::new(false).await;
    let (res, body) = c.get("/healthz", None).await;
    assert_eq!(res.status(), StatusCode::OK);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["version"], "9.9.9");
    assert_eq!(v["sip"], true);
    assert_eq!(v["status"], "ok");
    for path in ["/healthz", "/connexion", "/nulle-part", "/demandes"] {
        let (res, _) = c.get(path, None).await;
        let h = res.headers();
        let csp = h.get(header::CONTENT_SECURITY_POLICY).unwrap().to_str().unwrap();
        assert!(csp.starts_with("default-src 'self'"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'") && csp.contains("form-action 'self'"));
        assert!(!csp.contains("unsafe"));
        assert_eq!(h.get(header::X_CONTENT_TYPE_OPTIONS).unwrap(), "nosniff");
        assert_eq!(h.get(header::X_FRAME_OPTIONS).unwrap(), "DENY");
        assert_eq!(h.get(header::REFERRER_POLICY).unwrap(), "no-referrer");
        assert!(h.get(header::STRICT_TRANSPORT_SECURITY).is_none(), "no HSTS without TLS");
    }
    let (res, body) = c.get("/connexion", None).await;
    assert_eq!(res.headers().get(header::CACHE_CONTROL).unwrap(), "no-store");
    assert!(body.contains("<html lang=\"fr\">"));
    assert!(body.contains("<label for=\"name\">") && body.contains("id=\"name\""));
    assert!(body.contains("<label for=\"password\">") && body.contains("type=\"password\""));
    assert!(!body.contains("<script"), "no script at all");
    assert!(!body.contains("http://") && !body.contains("https://"), "nothing from elsewhere");
    let (res, _) = c.get("/nulle-part", None).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let (res, css) = c.get("/console.css", None).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers().get(header::CONTENT_TYPE).unwrap().to_str().unwrap().starts_with("text/css"));
    assert!(css.contains(":focus"));
}

#[tokio::test]
async fn tls_makes_cookies_secure_and_adds_hsts() {
    let c = Console::new(true).await;
    let (res, _, _) = c.login("agent.dupont", PASSWORD).await;
    assert!(set_cookie_line(&res, "ivr_session").contains("; Secure"));
    assert!(res.headers().get(header::STRICT_TRANSPORT_SECURITY).is_some());
}

#[tokio::test]
async fn login_then_logout() {
    let c = Console::new(false).await;
    let (res, _) = c.get("/", None).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/connexion");

    let (res, _, session) = c.login("agent.dupont", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/");
    let line = set_cookie_line(&res, "ivr_session");
    assert!(line.contains("HttpOnly") && line.contains("SameSite=Strict") && line.contains("Path=/"), "{line}");
    assert!(!line.contains("Secure"), "no Secure flag on loopback HTTP: {line}");
    let session = session.unwrap();
    assert_eq!(session.len(), 64);
    let stored: Vec<String> = sqlx::query_scalar("SELECT token_hash FROM console_sessions").fetch_all(&sqlite_pool(&c).await).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_ne!(stored[0], session, "the database holds the token's digest only");

    let (res, body) = c.get("/", Some(&session)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(body.contains("agent.dupont") && body.contains("/demandes"));

    let csrf = csrf_of(&body);
    // Logout needs the session's CSRF token.
    let (res, _) = c.post("/deconnexion", &format!("ivr_session={session}"), "csrf=wrong").await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let (res, _) = c.get("/", Some(&session)).await;
    assert_eq!(res.status(), StatusCode::OK, "still logged in after a refused logout");
    let (res, _) = c.post("/deconnexion", &format!("ivr_session={session}"), &format!("csrf={csrf}")).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(set_cookie_line(&res, "ivr_session").contains("Max-Age=0"));
    let (res, _) = c.get("/", Some(&session)).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "the session is over on the server too");

    let actions = c.actions().await;
    assert_eq!(actions, vec![("agent.dupont".into(), "login".into(), "agent.dupont".into()), ("agent.dupont".into(), "logout".into(), "agent.dupont".into()),]);
}

async fn sqlite_pool(c: &Console) -> sqlx::SqlitePool {
    let path = c._dir.path().join("c.sqlite");
    sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display())).await.unwrap()
}

#[tokio::test]
async fn wrong_password_and_unknown_name_get_the_same_answer() {
    let c = Console::new(false).await;
    let (res, body, session) = c.login("agent.dupont", "Wrong-Cheval-42").await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(session.is_none());
    assert!(body.contains("Identifiant ou mot de passe incorrect"));
    assert!(!body.contains("Wrong-Cheval-42"));
    let (res2, body2, session2) = c.login("personne", "Wrong-Cheval-42").await;
    assert_eq!(res2.status(), StatusCode::UNAUTHORIZED);
    assert!(session2.is_none());
    let msg = |b: &str| b.split("role=\"alert\">").nth(1).unwrap().split('<').next().unwrap().to_string();
    assert_eq!(msg(&body), msg(&body2), "no hint of which part was wrong");
    // A single failure does not lock: the right password works at once.
    let (res, _, session) = c.login("agent.dupont", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(session.is_some());
    let actions = c.actions().await;
    assert_eq!(actions[0], ("-".into(), "login-failed".into(), "agent.dupont".into()));
    assert_eq!(actions[1], ("-".into(), "login-failed".into(), "-".into()), "an unknown name is not written down");
    assert_eq!(actions[2].1, "login");
    // No clear-text password in the database.
    let pool = sqlite_pool(&c).await;
    let hashes: Vec<String> = sqlx::query_scalar("SELECT password_hash FROM console_accounts").fetch_all(&pool).await.unwrap();
    assert!(hashes.iter().all(|h| h.starts_with("$argon2id$") && !h.contains(PASSWORD)));
    let details: Vec<String> = sqlx::query_scalar("SELECT detail || target || actor FROM console_audit").fetch_all(&pool).await.unwrap();
    assert!(details.iter().all(|d| !d.contains("Cheval") && !d.contains("personne")));
}

#[tokio::test]
async fn throttling_then_lockout_after_repeated_failures() {
    let c = Console::new(false).await;
    for _ in 0..2 {
        assert_eq!(c.login("agent.dupont", "Wrong-Cheval-42").await.0.status(), StatusCode::UNAUTHORIZED);
    }
    // The third failure locks for 10 s: even the right password is refused meanwhile.
    assert_eq!(c.login("agent.dupont", "Wrong-Cheval-42").await.0.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(c.login("agent.dupont", PASSWORD).await.0.status(), StatusCode::UNAUTHORIZED);
    c.advance(Duration::seconds(11));
    assert_eq!(c.login("agent.dupont", "Wrong-Cheval-42").await.0.status(), StatusCode::UNAUTHORIZED);
    c.advance(Duration::seconds(21));
    // Fifth failure in a row: locked 15 minutes.
    assert_eq!(c.login("agent.dupont", "Wrong-Cheval-42").await.0.status(), StatusCode::UNAUTHORIZED);
    c.advance(Duration::minutes(14));
    let (res, _, session) = c.login("agent.dupont", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "locked");
    assert!(session.is_none());
    let account = c.store.account("agent.dupont").await.unwrap().unwrap();
    assert_eq!(account.failed_logins, 5, "attempts during a lock are refused without counting");
    // Another account is not affected.
    assert_eq!(c.login("admin", PASSWORD).await.0.status(), StatusCode::SEE_OTHER);
    c.advance(Duration::minutes(2));
    let (res, _, session) = c.login("agent.dupont", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "the lock is temporary");
    assert!(session.is_some());
    assert_eq!(c.store.account("agent.dupont").await.unwrap().unwrap().failed_logins, 0);
    let locked = c.actions().await.iter().filter(|a| a.1 == "login-failed" && a.2 == "agent.dupont").count();
    assert_eq!(locked, 7, "five wrong passwords and two attempts during a lock");
}

#[tokio::test]
async fn idle_sessions_end() {
    let c = Console::new(false).await;
    let s = c.session("agent.dupont").await;
    c.advance(Duration::minutes(14));
    assert_eq!(c.get("/demandes", Some(&s)).await.0.status(), StatusCode::OK);
    c.advance(Duration::minutes(14));
    assert_eq!(c.get("/demandes", Some(&s)).await.0.status(), StatusCode::OK, "use keeps it alive");
    c.advance(Duration::minutes(16));
    let (res, _) = c.get("/demandes", Some(&s)).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/connexion");
    assert_eq!(c.get("/", Some("0".repeat(64).as_str())).await.0.status(), StatusCode::SEE_OTHER, "a made-up token");
}

#[tokio::test]
async fn roles_decide_who_sees_requests_and_the_audit_log() {
    let c = Console::new(false).await;
    let id = add_request(&c.store).await;
    let analyst = c.session("ana.lyste").await;
    for path in ["/demandes".to_string(), format!("/demandes/{id}"), "/journal".into()] {
        let (res, body) = c.get(&path, Some(&analyst)).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{path}");
        assert!(!body.contains("Paul Durand") && !body.contains("0612345678"));
    }
    let (_, home) = c.get("/", Some(&analyst)).await;
    assert!(!home.contains("href=\"/demandes\""), "no link to what the role cannot open");

    for who in ["agent.dupont", "sup.ervision"] {
        let s = c.session(who).await;
        let (res, body) = c.get("/demandes", Some(&s)).await;
        assert_eq!(res.status(), StatusCode::OK, "{who}");
        assert!(body.contains(&format!("href=\"/demandes/{id}\"")));
        assert!(!body.contains("0612345678") && !body.contains("Paul Durand"), "the list shows no personal data");
        assert_eq!(c.get("/journal", Some(&s)).await.0.status(), StatusCode::FORBIDDEN);
    }
    let admin = c.session("admin").await;
    assert_eq!(c.get("/journal", Some(&admin)).await.0.status(), StatusCode::OK);
    assert_eq!(c.get("/demandes", Some(&admin)).await.0.status(), StatusCode::FORBIDDEN);
    // Nobody in the forbidden attempts read the request.
    assert!(c.actions().await.iter().all(|a| a.1 != "request-open"));
}

#[tokio::test]
async fn an_agent_opens_and_handles_a_request_with_csrf_and_audit() {
    let c = Console::new(false).await;
    let id = add_request(&c.store).await;
    let s = c.session("agent.dupont").await;
    let (res, body) = c.get(&format!("/demandes/{id}"), Some(&s)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(body.contains("0612345678") && body.contains("Paul Durand"));
    assert!(body.contains(&format!("action=\"/demandes/{id}/traitee\"")));
    assert!(body.contains("hors catalogue"), "@none read as words");
    let csrf = csrf_of(&body);
    assert_eq!(c.get("/demandes/999999", Some(&s)).await.0.status(), StatusCode::NOT_FOUND);

    let cookie = format!("ivr_session={s}");
    let path = format!("/demandes/{id}/traitee");
    for form in ["", "csrf=", "csrf=00ff", &format!("csrf={}", c.csrf(&c.session("sup.ervision").await).await)] {
        let (res, _) = c.post(&path, &cookie, form).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "form {form:?}");
    }
    assert_eq!(c.store.request(id).await.unwrap().unwrap().status, RequestStatus::New, "nothing changed without the token");
    // Without a session the form goes nowhere.
    let (res, _) = c.post(&path, "", &format!("csrf={csrf}")).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(c.store.request(id).await.unwrap().unwrap().status, RequestStatus::New);

    let (res, _) = c.post(&path, &cookie, &format!("csrf={csrf}")).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/demandes");
    let r = c.store.request(id).await.unwrap().unwrap();
    assert_eq!(r.status, RequestStatus::Handled);
    assert_eq!(r.handled_by.as_deref(), Some("agent.dupont"));
    let (_, list) = c.get("/demandes", Some(&s)).await;
    assert!(!list.contains(&format!("href=\"/demandes/{id}\"")), "gone from the new ones");
    let (_, list) = c.get("/demandes?statut=traitees", Some(&s)).await;
    assert!(list.contains(&format!("href=\"/demandes/{id}\"")));

    let actions = c.actions().await;
    let target = format!("request:{id}");
    assert!(actions.contains(&("agent.dupont".into(), "request-open".into(), target.clone())));
    assert!(actions.contains(&("agent.dupont".into(), "request-handled".into(), target.clone())));
    let entries = c.store.audit_entries(100).await.unwrap();
    assert!(entries.iter().all(|e| !e.detail.contains("0612345678") && !e.detail.contains("Paul")), "the audit names the request, not its content");
    assert!(c.store.verify_audit().await.unwrap().ok());
}

#[tokio::test]
async fn the_login_form_needs_its_token() {
    let c = Console::new(false).await;
    let form = format!("name=agent.dupont&password={}&csrf=abc", urlencode(PASSWORD));
    let (res, _) = c.post("/connexion", "ivr_login=abd", &form).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let (res, _) = c.post("/connexion", "", &form).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(set_cookie(&res, "ivr_session").is_none());
    assert!(c.actions().await.is_empty(), "not even an attempt");
}

#[tokio::test]
async fn the_audit_page_shows_a_tampered_chain() {
    let c = Console::new(false).await;
    let admin = c.session("admin").await;
    let (_, body) = c.get("/journal", Some(&admin)).await;
    assert!(body.contains("Chaîne intègre"), "{body}");
    assert!(body.contains(">login<"));
    c.session("agent.dupont").await;
    let pool = sqlite_pool(&c).await;
    sqlx::query("UPDATE console_audit SET actor = 'quelqu-un' WHERE action = 'login' AND target = 'agent.dupont'").execute(&pool).await.unwrap();
    let (_, body) = c.get("/journal", Some(&admin)).await;
    assert!(body.contains("Chaîne rompue à la ligne 2"), "{body}");
}
