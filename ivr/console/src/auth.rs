//! Login, logout and the session of each request.
//!
//! The session cookie holds a random 256-bit token (HttpOnly, SameSite=Strict, Secure over
//! TLS, no expiry: the server ends it after `idle_timeout_min` unused or
//! `session_max_hours`); the database keeps only its SHA-256. Each session has its own CSRF
//! token, put in every form that changes something and compared in constant time. The
//! login form has its own CSRF token (double submit: a cookie and a hidden field).
//!
//! A failed login shows one message whatever the reason (unknown name, wrong password,
//! locked or disabled account) and is written to the audit log; from `throttle_after`
//! failures in a row the account is locked for a short, doubling time, from `lock_after`
//! for `lock_minutes`.

use axum::extract::{FromRequestParts, State};
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use ivr_accounting::{Account, Role};
use rand::RngCore;
use serde::Deserialize;
use subtle::ConstantTimeEq;

use crate::{audit, pages, password, AppState, ConsoleError};

pub const SESSION_COOKIE: &str = "ivr_session";
pub const LOGIN_COOKIE: &str = "ivr_login";

/// The generic refusal: it says nothing of which part was wrong (no hint).
pub const LOGIN_REFUSED: &str = "Identifiant ou mot de passe incorrect, ou compte temporairement bloqué après plusieurs échecs.";

fn random_token() -> String {
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

/// The value of cookie `name` in the request's Cookie headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

fn set_cookie(state: &AppState, name: &str, value: &str, clear: bool) -> HeaderValue {
    let secure = if state.tls { "; Secure" } else { "" };
    let age = if clear { "; Max-Age=0" } else { "" };
    // Tokens are hex: always a valid header value.
    HeaderValue::from_str(&format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict{secure}{age}"))
        .unwrap_or_else(|_| HeaderValue::from_static("invalid=; Max-Age=0"))
}

pub(crate) fn same_token(a: &str, b: &str) -> bool {
    !a.is_empty() && a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// The logged-in account of a request. Without a valid session: a redirect to the login
/// page for a page, 401 for anything else.
pub struct Authed {
    pub account: Account,
    pub csrf: String,
}

impl Authed {
    /// Forbidden unless the account has one of `roles`.
    pub fn require(&self, roles: &[Role]) -> Result<(), ConsoleError> {
        if roles.contains(&self.account.role) {
            Ok(())
        } else {
            Err(ConsoleError::Forbidden)
        }
    }

    /// The form's token must be this session's.
    pub fn check_csrf(&self, token: &str) -> Result<(), ConsoleError> {
        if same_token(token, &self.csrf) {
            Ok(())
        } else {
            Err(ConsoleError::Csrf)
        }
    }

    pub fn name(&self) -> &str {
        &self.account.name
    }
}

pub enum AuthRejection {
    Login,
    Error(ConsoleError),
}

impl IntoResponse for AuthRejection {
    fn into_response(self) -> Response {
        match self {
            AuthRejection::Login => Redirect::to("/connexion").into_response(),
            AuthRejection::Error(e) => e.into_response(),
        }
    }
}

impl FromRequestParts<AppState> for Authed {
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let store = state.store().map_err(AuthRejection::Error)?;
        let Some(token) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Err(AuthRejection::Login);
        };
        let idle = chrono::Duration::minutes(i64::from(state.cfg.idle_timeout_min));
        let max_age = chrono::Duration::hours(i64::from(state.cfg.session_max_hours));
        match store.touch_session(&token, state.now(), idle, max_age).await {
            Ok(Some(s)) => Ok(Authed { account: s.account, csrf: s.csrf }),
            Ok(None) => Err(AuthRejection::Login),
            Err(e) => Err(AuthRejection::Error(e.into())),
        }
    }
}

pub async fn login_form(State(state): State<AppState>) -> Response {
    let token = random_token();
    let mut res = pages::login_page(&token, None).into_response();
    res.headers_mut().append(header::SET_COOKIE, set_cookie(&state, LOGIN_COOKIE, &token, false));
    res
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
}

pub async fn login(State(state): State<AppState>, headers: HeaderMap, Form(form): Form<LoginForm>) -> Result<Response, ConsoleError> {
    let store = state.store()?.clone();
    let expected = cookie(&headers, LOGIN_COOKIE).unwrap_or_default();
    if !same_token(&form.csrf, &expected) {
        return Err(ConsoleError::Csrf);
    }
    let now = state.now();
    let name = form.name.trim().to_string();
    let account = if name.is_empty() { None } else { store.account(&name).await? };
    let refuse = |state: &AppState| {
        let token = random_token();
        let mut res = (StatusCode::UNAUTHORIZED, pages::login_page(&token, Some(LOGIN_REFUSED))).into_response();
        res.headers_mut().append(header::SET_COOKIE, set_cookie(state, LOGIN_COOKIE, &token, false));
        res
    };
    let Some(account) = account else {
        // Same work as a wrong password; the typed name is not written anywhere (it may be
        // a password typed in the wrong field).
        let pw = form.password;
        let _ = tokio::task::spawn_blocking(move || password::verify(&pw, password::dummy_hash())).await;
        audit(&state, "-", "login-failed", "-", "unknown account").await?;
        return Ok(refuse(&state));
    };
    if account.disabled {
        audit(&state, "-", "login-failed", &account.name, "account disabled").await?;
        return Ok(refuse(&state));
    }
    if account.locked_until.is_some_and(|t| t > now) {
        audit(&state, "-", "login-failed", &account.name, "account locked").await?;
        return Ok(refuse(&state));
    }
    let stored = store.account_password_hash(account.id).await?.unwrap_or_default();
    let pw = form.password;
    let ok = tokio::task::spawn_blocking(move || password::verify(&pw, &stored)).await.map_err(|e| ConsoleError::Internal(e.to_string()))?;
    if !ok {
        let cfg = state.cfg.clone();
        let failures = store.record_failed_login(account.id, |n| cfg.lock_for(n).map(|d| now + d)).await?;
        let detail = match state.cfg.lock_for(failures) {
            Some(d) => format!("wrong password ({failures} in a row): locked {} s", d.num_seconds()),
            None => format!("wrong password ({failures} in a row)"),
        };
        audit(&state, "-", "login-failed", &account.name, &detail).await?;
        return Ok(refuse(&state));
    }
    store.record_login(account.id, now).await?;
    let token = random_token();
    store.create_session(account.id, &token, &random_token(), now).await?;
    audit(&state, &account.name, "login", &account.name, account.role.as_str()).await?;
    let mut res = Redirect::to("/").into_response();
    res.headers_mut().append(header::SET_COOKIE, set_cookie(&state, SESSION_COOKIE, &token, false));
    res.headers_mut().append(header::SET_COOKIE, set_cookie(&state, LOGIN_COOKIE, "", true));
    Ok(res)
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    pub csrf: String,
}

pub async fn logout(State(state): State<AppState>, headers: HeaderMap, user: Authed, Form(form): Form<CsrfForm>) -> Result<Response, ConsoleError> {
    user.check_csrf(&form.csrf)?;
    if let Some(token) = cookie(&headers, SESSION_COOKIE) {
        state.store()?.end_session(&token).await?;
    }
    audit(&state, user.name(), "logout", user.name(), "").await?;
    let mut res = Redirect::to("/connexion").into_response();
    res.headers_mut().append(header::SET_COOKIE, set_cookie(&state, SESSION_COOKIE, "", true));
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_read_from_every_header() {
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, HeaderValue::from_static("a=1; ivr_session=abc"));
        h.append(header::COOKIE, HeaderValue::from_static("ivr_login=def"));
        assert_eq!(cookie(&h, SESSION_COOKIE).as_deref(), Some("abc"));
        assert_eq!(cookie(&h, LOGIN_COOKIE).as_deref(), Some("def"));
        assert_eq!(cookie(&h, "b"), None);
    }

    #[test]
    fn tokens_compare_whole_and_never_empty() {
        assert!(same_token("abcd", "abcd"));
        assert!(!same_token("abcd", "abce"));
        assert!(!same_token("abc", "abcd"));
        assert!(!same_token("", ""));
    }
}
