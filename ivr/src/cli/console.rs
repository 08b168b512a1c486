//! `ivr console`: the web console's accounts (`user add|passwd|disable|enable|list`) and
//! its audit log (`audit verify|show`), on the accounting database (same `--db`/`--config`
//! as `ivr report`).
//!
//! Passwords are read twice from stdin (without echo on a terminal), never from an
//! argument; they must follow the CNIL rule of `ivr_console::password`. Every account
//! change is written to the audit log as `cli:<login user>`.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{bail, Context};
use clap::Subcommand;
use ivr_accounting::chrono::Utc;
use ivr_accounting::{Role, Store};
use ivr_console::password;

use super::report::{redact, DbArgs};

#[derive(Subcommand, Debug)]
pub enum ConsoleCommand {
    /// Console accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// The console's audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
}

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Create an account; its password is read twice from stdin.
    Add {
        name: String,
        #[arg(long, value_parser = role_parser())]
        role: Role,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Set a new password (read twice from stdin); ends the account's sessions and lock.
    Passwd {
        name: String,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Disable an account (its sessions end at once).
    Disable {
        name: String,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Enable a disabled account again.
    Enable {
        name: String,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Every account with its role and state.
    List {
        #[command(flatten)]
        db: DbArgs,
    },
}

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Check the audit log's hash chain (exit status 1 when broken).
    Verify {
        #[command(flatten)]
        db: DbArgs,
    },
    /// The newest rows of the audit log.
    Show {
        #[arg(long, default_value_t = 50)]
        limit: u32,
        #[command(flatten)]
        db: DbArgs,
    },
}

/// The role names `Role` itself knows, for clap (help, completion and errors list them).
fn role_parser() -> impl clap::builder::TypedValueParser<Value = Role> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(Role::ALL.map(Role::as_str)).try_map(|s: String| Role::parse(&s).ok_or("unknown role"))
}

pub fn run(cmd: ConsoleCommand) -> anyhow::Result<()> {
    let db = match &cmd {
        ConsoleCommand::User(
            UserCommand::Add { db, .. }
            | UserCommand::Passwd { db, .. }
            | UserCommand::Disable { db, .. }
            | UserCommand::Enable { db, .. }
            | UserCommand::List { db },
        ) => db.clone(),
        ConsoleCommand::Audit(AuditCommand::Verify { db } | AuditCommand::Show { db, .. }) => db.clone(),
    };
    let cfg = super::report::config(&db)?;
    // Read before opening the database: nothing waits on a connection while someone types.
    let new_password = match &cmd {
        ConsoleCommand::User(UserCommand::Add { name, .. } | UserCommand::Passwd { name, .. }) => Some(read_new_password(name)?),
        _ => None,
    };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async move {
        let store = Store::connect(&cfg.db_url).await.with_context(|| format!("opening the database {}", redact(&cfg.db_url)))?;
        let res = command(&store, cmd, new_password).await;
        store.close().await;
        res
    })
}

fn actor() -> String {
    let user = std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).unwrap_or_else(|_| "?".into());
    format!("cli:{user}")
}

async fn command(store: &Store, cmd: ConsoleCommand, new_password: Option<String>) -> anyhow::Result<()> {
    let now = Utc::now();
    match cmd {
        ConsoleCommand::User(UserCommand::Add { name, role, .. }) => {
            let name = valid_name(&name)?;
            let pw = new_password.context("no password read")?;
            let hash = tokio::task::spawn_blocking(move || password::hash(&pw)).await?.map_err(|e| anyhow::anyhow!("hashing: {e}"))?;
            if store.create_account(name, role, &hash, now).await?.is_none() {
                bail!("an account named {name} already exists");
            }
            store.audit(now, &actor(), "account-add", name, role.as_str()).await?;
            println!("account {name} created (role {})", role.as_str());
        }
        ConsoleCommand::User(UserCommand::Passwd { name, .. }) => {
            let pw = new_password.context("no password read")?;
            let hash = tokio::task::spawn_blocking(move || password::hash(&pw)).await?.map_err(|e| anyhow::anyhow!("hashing: {e}"))?;
            if !store.set_account_password(&name, &hash, now).await? {
                bail!("no account named {name}");
            }
            store.audit(now, &actor(), "account-passwd", &name, "").await?;
            println!("password of {name} changed; its sessions were ended");
        }
        ConsoleCommand::User(UserCommand::Disable { name, .. }) => {
            if !store.set_account_disabled(&name, true).await? {
                bail!("no account named {name}");
            }
            store.audit(now, &actor(), "account-disable", &name, "").await?;
            println!("account {name} disabled; its sessions were ended");
        }
        ConsoleCommand::User(UserCommand::Enable { name, .. }) => {
            if !store.set_account_disabled(&name, false).await? {
                bail!("no account named {name}");
            }
            store.audit(now, &actor(), "account-enable", &name, "").await?;
            println!("account {name} enabled");
        }
        ConsoleCommand::User(UserCommand::List { .. }) => {
            println!("{:<24} {:<11} {:<9} last login", "name", "role", "state");
            for a in store.accounts().await? {
                let state = if a.disabled {
                    "disabled"
                } else if a.locked_until.is_some_and(|t| t > now) {
                    "locked"
                } else {
                    "active"
                };
                let last = a.last_login_at.map_or("-".to_string(), |t| t.format("%Y-%m-%d %H:%M UTC").to_string());
                println!("{:<24} {:<11} {:<9} {last}", a.name, a.role.as_str(), state);
            }
        }
        ConsoleCommand::Audit(AuditCommand::Verify { .. }) => {
            let v = store.verify_audit().await?;
            match v.broken {
                None => println!("audit chain intact: {} row(s)", v.rows),
                Some((seq, why)) => bail!("audit chain broken at row {seq}: {why} ({} row(s) verified before it)", v.rows),
            }
        }
        ConsoleCommand::Audit(AuditCommand::Show { limit, .. }) => {
            for e in store.audit_entries(limit).await? {
                println!("{}\t{}\t{}\t{}\t{}\t{}", e.seq, e.at.format("%Y-%m-%dT%H:%M:%SZ"), e.actor, e.action, e.target, e.detail);
            }
        }
    }
    Ok(())
}

fn valid_name(name: &str) -> anyhow::Result<&str> {
    let ok = !name.is_empty() && name.len() <= 64 && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '@'));
    if !ok {
        bail!("account names are 1 to 64 characters among a-z, A-Z, 0-9 and . - _ @");
    }
    Ok(name)
}

/// Reads the new password twice: without echo from a terminal, else two lines of stdin.
fn read_new_password(name: &str) -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    let (first, second) = if stdin.is_terminal() {
        let a = rpassword::prompt_password("Nouveau mot de passe : ").context("reading the password")?;
        let b = rpassword::prompt_password("Encore une fois : ").context("reading the password")?;
        (a, b)
    } else {
        let mut lines = stdin.lock().lines();
        let mut next = || -> anyhow::Result<String> { Ok(lines.next().transpose().context("reading stdin")?.unwrap_or_default()) };
        (next()?, next()?)
    };
    let _ = std::io::stderr().flush();
    if first != second {
        bail!("{}", password::PasswordError::Mismatch);
    }
    password::check(name, &first).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(first)
}

/// The HTTP side of `ivr serve` (console and `/healthz`), stopped with the server.
pub(crate) struct Http {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Http {
    pub(crate) async fn stop(self) {
        let _ = self.stop.send(());
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), self.task).await;
    }
}

/// Default of `ivr serve --http`.
pub(crate) const DEFAULT_HTTP: &str = "127.0.0.1:8080";

/// Starts the console for `ivr serve`. `http`: the `--http` value (None: the default, whose
/// address being taken is logged but does not stop the SIP service; `none`: no HTTP).
/// `db_url`: the accounting database (None: `/healthz` only). `table`: `[console]`.
pub(crate) async fn start_http(
    http: Option<&str>,
    db_url: Option<&str>,
    table: Option<toml::Value>,
    sip_up: std::sync::Arc<std::sync::atomic::AtomicBool>,
    accounting: ivr_accounting::AccountingConfig,
) -> anyhow::Result<Option<Http>> {
    let asked = http.unwrap_or(DEFAULT_HTTP);
    if asked == "none" {
        tracing::info!("console: HTTP off (--http none)");
        return Ok(None);
    }
    let addr: std::net::SocketAddr = asked.parse().with_context(|| format!("--http {asked}: expected ADDR:PORT or none"))?;
    let cfg: ivr_console::ConsoleConfig = match table {
        Some(v) => v.try_into().context("invalid [console] configuration")?,
        None => Default::default(),
    };
    let tls = match cfg.tls() {
        Some((cert, key)) => Some(ivr_console::server::load_tls(cert, key).context("loading the console's TLS certificate")?),
        None => None,
    };
    let listener = match ivr_console::server::bind(addr, tls.is_some()).await {
        Ok(l) => l,
        Err(e) if http.is_none() => {
            tracing::error!(error = %e, "console not served (pass --http ADDR:PORT, or --http none)");
            return Ok(None);
        }
        Err(e) => return Err(e.into()),
    };
    let store = match db_url {
        Some(url) => Some(Store::connect(url).await.with_context(|| format!("opening the console's database {}", redact(url)))?),
        None => {
            tracing::info!("console: no database, only /healthz is served");
            None
        }
    };
    let health = ivr_console::Health { version: env!("CARGO_PKG_VERSION"), sip_up, content_version: crate::service::content::version_gauge() };
    // The dashboards compute with the service's SC3.2 rule, as `ivr report --config` does.
    let state = ivr_console::AppState::new(store, cfg, tls.is_some(), health).with_accounting(accounting);
    let app = ivr_console::router(state);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let shutdown = async move {
            let _ = stopped.await;
        };
        if let Err(e) = ivr_console::server::serve(listener, app, tls, shutdown).await {
            tracing::error!(error = %e, "console stopped");
        }
    });
    Ok(Some(Http { stop, task }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_console_table_is_valid() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../ivr.example.toml");
        let mut table: toml::Table = toml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let cfg: ivr_console::ConsoleConfig = table.remove("console").unwrap().try_into().unwrap();
        assert_eq!(cfg, ivr_console::ConsoleConfig::default());
        let bad: Result<ivr_console::ConsoleConfig, _> = toml::Value::Table(toml::from_str("idle_timeout = 3").unwrap()).try_into();
        assert!(bad.is_err(), "a typo is refused");
    }

    #[test]
    fn account_names() {
        assert!(valid_name("agent.dupont").is_ok());
        assert!(valid_name("admin").is_ok());
        assert!(valid_name("").is_err());
        assert!(valid_name("a b").is_err());
        assert!(valid_name("<script>").is_err());
        assert!(valid_name(&"a".repeat(65)).is_err());
    }

    #[tokio::test]
    async fn http_none_serves_nothing_and_a_bad_address_is_refused() {
        let up = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        assert!(start_http(Some("none"), None, None, up.clone(), Default::default()).await.unwrap().is_none());
        assert!(start_http(Some("localhost"), None, None, up.clone(), Default::default()).await.is_err());
    }

    #[tokio::test]
    async fn healthz_over_real_http() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        // Port 0 and a free port found first: bind, note, release (bounded, loopback only).
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let up = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let http = start_http(Some(&format!("127.0.0.1:{port}")), None, None, up, Default::default()).await.unwrap().unwrap();
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.unwrap();
        let mut out = String::new();
        tokio::time::timeout(std::time::Duration::from_secs(10), s.read_to_string(&mut out)).await.unwrap().unwrap();
        assert!(out.starts_with("HTTP/1.1 200"), "{out}");
        assert!(out.contains("\"sip\":true") && out.contains(env!("CARGO_PKG_VERSION")), "{out}");
        assert!(out.to_lowercase().contains("content-security-policy: default-src 'self'"));
        http.stop().await;
    }
}
