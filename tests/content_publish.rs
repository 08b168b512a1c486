//! Content versions published to running instances without a restart: two `ivr serve` on
//! one PostgreSQL; an answer's text changed and published with `ivr knowledge import
//! --publish` reaches both (log line, `/healthz`), a call hears the new rendering (the
//! played `total_ms`), `ivr knowledge rollback 1` brings the old one back, and a version the
//! checker rejects is refused (exit 1, file and line named) while the instances stay on
//! their version.

mod conversation_common;

#[path = "support/postgres.rs"]
mod own_postgres;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use conversation_common::{clip_ms, root, run_sipp, scenario, spawn, speak, write_pcap, Step};
use ivr_accounting::chrono::Utc;
use ivr_accounting::{ContentDraft, Store};

const SLUG: &str = "mot-de-passe-oublie";
const QUESTION: &str = "J'ai oublié mon mot de passe, je ne peux plus me connecter.";

/// A shorter answer than the shipped one (about 30 s), still long enough for the checker
/// (at least 20 s estimated).
const NEW_ANSWER: &str = "Vous pouvez créer un nouveau mot de passe vous-même. Sur caf point f r ou dans \
l'application Caf - Mon Compte, choisissez le lien Mot de passe oublié, puis donnez les treize chiffres \
de votre numéro de sécurité sociale. Vous recevez un code par courriel ou par texto. Ne donnez jamais \
ce code à personne, même à un conseiller de la Caf.";

struct Instance {
    child: Child,
    port: u16,
    http: u16,
    log: PathBuf,
    cache: PathBuf,
}

impl Instance {
    fn start(name: &str, idx: u16, db_url: &str, dir: &Path) -> Instance {
        let http = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("free TCP port");
        let base = 42000 + ((std::process::id() % 20) as u16) * 160 + idx * 40;
        let cache = dir.join(format!("content-{name}"));
        let cfg = format!(
            "public_address = \"127.0.0.1\"\nmax_calls = 10\n[transfer]\n2 = \"sip:agents-choix2@127.0.0.1\"\n3 = \"sip:agents-choix3@127.0.0.1\"\n\
             [rtp_ports]\nmin = {base}\nmax = {}\n[prompts]\ndir = \"{}\"\n[content]\ndir = \"{}\"\npoll_ms = 300\ninstance = \"{name}\"\n",
            base + 38,
            dir.join("none").display(),
            cache.display()
        );
        let cfg_path = dir.join(format!("{name}.toml"));
        std::fs::write(&cfg_path, cfg).expect("write config");
        let log = dir.join(format!("{name}.log"));
        let r = root();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ivr"));
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--hours", "always-open", "--asr-workers", "1", "--asr-threads", "2", "--config"])
            .arg(&cfg_path)
            .arg("--http")
            .arg(format!("127.0.0.1:{http}"))
            .arg("--knowledge")
            .arg(r.join("knowledge"))
            .arg("--prompts")
            .arg(r.join("prompts/prompts.toml"))
            .arg("--db-url")
            .arg(db_url)
            .arg("--spool")
            .arg("none")
            .current_dir(&r)
            .env("IVR_LOG", "info,tantivy=warn");
        let (child, port) = spawn(cmd, &log);
        Instance { child, port, http, log, cache }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn wait_log(&self, needle: &str, within: Duration) -> bool {
        let end = Instant::now() + within;
        while Instant::now() < end {
            if self.log_text().contains(needle) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }

    /// `content_version` from `/healthz`.
    fn health_version(&self) -> Option<i64> {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", self.http)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").ok()?;
        let mut body = String::new();
        s.read_to_string(&mut body).ok()?;
        let json = body.split("\r\n\r\n").nth(1)?;
        let v: serde_json::Value = serde_json::from_str(json.trim()).ok()?;
        v["content_version"].as_i64()
    }

    /// The length of the answer clip of `version`, as this instance rendered it.
    fn rendered_ms(&self, version: i64) -> u64 {
        let path = self.cache.join(format!("v{version}/prompts/audio/manifest.json"));
        let m: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).expect("version manifest")).expect("manifest json");
        m["entries"][format!("answer/{SLUG}")]["ms"].as_u64().expect("answer in the manifest")
    }

    /// Asks the question; returns the `total_ms` of the answer played on that call.
    fn ask(&self, dir: &Path, call: &str) -> Result<u64, String> {
        self.ask_number(dir, call, "3230")
    }

    /// [`Instance::ask`] dialling `number` (the Request-URI user).
    fn ask_number(&self, dir: &Path, call: &str, number: &str) -> Result<u64, String> {
        // Synthetic speech on a loaded machine is now and then misheard: one more try.
        match self.ask_once(dir, call, number, 1) {
            Ok(ms) => Ok(ms),
            Err(first) => self.ask_once(dir, call, number, 2).map_err(|second| format!("{first}\n--- second try ---\n{second}")),
        }
    }

    fn ask_once(&self, dir: &Path, call: &str, number: &str, attempt: u32) -> Result<u64, String> {
        let speech = speak(QUESTION, dir, call);
        let pcap = dir.join(format!("{call}.pcap"));
        let speech_ms = speech.len() as u32 / 8;
        write_pcap(&pcap, &speech, 300, 12000);
        let call_id = format!("{call}-{}-a{attempt}", std::process::id());
        // The caller hangs up a few seconds into the answer: the stopped play still reports
        // the clip's whole length.
        let steps = [Step::Pause(1500), Step::Audio(pcap), Step::Pause(300 + speech_ms + 16000)];
        let xml = scenario("0612345678", 2, &steps).replacen("INVITE sip:3230@", &format!("INVITE sip:{number}@"), 1);
        let sf = dir.join(format!("{call}.xml"));
        std::fs::write(&sf, xml).expect("write scenario");
        let cid = format!("{call_id}-%u-%p@%s");
        let (ok, logs) = run_sipp(self.port, &sf, &["-cid_str", &cid], Duration::from_secs(50), &["errors.log"]);
        let key = format!("\"key\":\"answer/{SLUG}\"");
        let end = Instant::now() + Duration::from_secs(5);
        loop {
            let text = self.log_text();
            let played = text.lines().filter(|l| l.contains(&call_id) && l.contains("\"event\":\"played\"") && l.contains(&key)).find_map(|l| {
                let rest = l.split("\"total_ms\":").nth(1)?;
                rest.split(|c: char| !c.is_ascii_digit()).next()?.parse::<u64>().ok()
            });
            if let Some(ms) = played {
                return Ok(ms);
            }
            if Instant::now() > end {
                let call_log: Vec<&str> = text.lines().filter(|l| l.contains(&call_id)).collect();
                return Err(format!("answer not played (sipp ok={ok}): {logs:?}\n{}", call_log.join("\n")));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `ivr knowledge ARGS --db-url URL`: (exit code, stdout, stderr).
fn knowledge(db_url: &str, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ivr"))
        .arg("knowledge")
        .args(args)
        .arg("--db-url")
        .arg(db_url)
        .env("USER", "redaction")
        .env("IVR_LOG", "warn")
        .output()
        .expect("run ivr knowledge");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// The topic file with its answer replaced (the `answer = """…"""` block).
fn with_answer(toml: &str, answer: &str) -> String {
    let start = toml.find("answer = \"\"\"").expect("answer block");
    let end = start + 12 + toml[start + 12..].find("\"\"\"").expect("end of the answer block") + 3;
    format!("{}answer = \"\"\"\n{answer}\n\"\"\"{}", &toml[..start], &toml[end..])
}

fn near(a: u64, b: u64) -> bool {
    a.abs_diff(b) <= 60
}

#[test]
fn a_published_answer_reaches_every_instance_and_a_rollback_brings_the_old_one_back() {
    let Some(pg) = own_postgres::OwnPostgres::start() else { return };
    let db = pg.url();
    let dir = tempfile::tempdir().expect("tempdir");
    let started = Instant::now();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let store = runtime.block_on(Store::connect(&db)).expect("connect to the test database");

    // The first instance imports the repository's files as version 1; the second finds it.
    let a = Instance::start("a", 0, &db, dir.path());
    let b = Instance::start("b", 1, &db, dir.path());
    for i in [&a, &b] {
        assert!(i.wait_log("content version loaded version=1", Duration::from_secs(60)), "version 1 not loaded: {}", i.log_text());
        assert_eq!(i.health_version(), Some(1));
    }
    let (code, versions, _) = knowledge(&db, &["versions"]);
    assert_eq!(code, 0);
    assert!(versions.lines().any(|l| l.starts_with('*') && l.contains("import") && l.contains("fichiers du dépôt")), "{versions}");
    let old_ms = clip_ms(&format!("answer/{SLUG}"));

    // Export, shorten one answer, import and publish.
    let work = dir.path().join("work");
    let (code, out, err) = knowledge(&db, &["export", work.to_str().expect("utf-8 path")]);
    assert_eq!(code, 0, "{out}{err}");
    let topic = work.join(format!("knowledge/{SLUG}.toml"));
    let text = std::fs::read_to_string(&topic).expect("exported topic");
    std::fs::write(&topic, with_answer(&text, NEW_ANSWER)).expect("edit the topic");
    let (code, out, err) = knowledge(&db, &["import", work.to_str().expect("utf-8 path"), "--note", "réponse plus courte", "--publish"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("version 2 published"), "{out}");
    for i in [&a, &b] {
        assert!(i.wait_log("content version loaded version=2", Duration::from_secs(60)), "version 2 not loaded: {}", i.log_text());
        assert_eq!(i.health_version(), Some(2));
    }
    let new_ms = a.rendered_ms(2);
    assert!(new_ms + 3000 < old_ms, "the new answer ({new_ms} ms) should be clearly shorter than the old one ({old_ms} ms)");
    let heard = a.ask(dir.path(), "new").unwrap_or_else(|e| panic!("{e}"));
    assert!(near(heard, new_ms), "played {heard} ms, the new rendering is {new_ms} ms (old {old_ms} ms)");

    // Rollback: a new version (3) with version 1's content, published.
    let (code, out, err) = knowledge(&db, &["rollback", "1"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("version 3 published"), "{out}");
    for i in [&a, &b] {
        assert!(i.wait_log("content version loaded version=3", Duration::from_secs(60)), "version 3 not loaded: {}", i.log_text());
        assert_eq!(i.health_version(), Some(3));
    }
    let heard = b.ask(dir.path(), "back").unwrap_or_else(|e| panic!("{e}"));
    assert!(near(heard, old_ms), "played {heard} ms after the rollback, the shipped rendering is {old_ms} ms");
    let (_, versions, _) = knowledge(&db, &["versions"]);
    assert!(versions.lines().any(|l| l.starts_with('*') && l.contains("retour à la version 1")), "{versions}");

    // A draft call runs the editors' draft (here version 2's content) and is not recorded.
    let (_, v2) = runtime.block_on(store.content_version(2)).expect("read version 2").expect("version 2");
    let draft = ContentDraft { snapshot: v2, base_version: Some(3), updated_at: Utc::now(), updated_by: "redaction".into() };
    runtime.block_on(store.save_content_draft(&draft)).expect("save the draft");
    let heard = a.ask_number(dir.path(), "draft", "brouillon").unwrap_or_else(|e| panic!("{e}"));
    assert!(near(heard, new_ms), "the draft call played {heard} ms, the draft's rendering is {new_ms} ms");
    let draft_log: Vec<String> = a.log_text().lines().filter(|l| l.contains("draft-")).map(str::to_string).collect();
    assert!(draft_log.iter().any(|l| l.contains("draft call: not recorded")), "{}", a.log_text());
    assert!(!draft_log.iter().any(|l| l.contains("call record committed")), "a draft call is not recorded: {draft_log:?}");
    assert_eq!(a.health_version(), Some(3), "a draft call changes nothing for the other calls");

    // A version the checker rejects is refused; nothing changes on the instances.
    let broken = with_answer(&text, NEW_ANSWER).replacen("reviewed = ", "revu = ", 1);
    std::fs::write(&topic, &broken).expect("break the topic");
    let (code, out, err) = knowledge(&db, &["import", work.to_str().expect("utf-8 path"), "--publish"]);
    assert_eq!(code, 1, "{out}{err}");
    let named = format!("knowledge/{SLUG}.toml:");
    let with_line = out.lines().find_map(|l| l.strip_prefix(&named)?.split(':').next()?.parse::<usize>().ok());
    assert!(with_line.is_some_and(|n| n > 0), "the message names the file and line: {out}");
    let (_, versions, _) = knowledge(&db, &["versions"]);
    assert!(versions.lines().any(|l| l.starts_with('*') && l.contains(" 3 ")), "{versions}");
    assert!(!versions.lines().any(|l| l.split_whitespace().next() == Some("4")), "nothing stored for a refused import: {versions}");
    for i in [&a, &b] {
        assert_eq!(i.health_version(), Some(3));
    }
    // A version that reaches the instances broken (stored without the checker's verdict,
    // as another tool could) is not loaded: each instance keeps version 3, says why in its
    // log and in its report.
    let mut bad = runtime.block_on(store.content_version(3)).expect("read version 3").expect("version 3").1;
    bad.files.insert(format!("knowledge/{SLUG}.toml"), broken.clone());
    let bad_id = runtime.block_on(store.create_content_version(&bad, "test", "cassée", &[], Utc::now())).expect("store the broken version");
    runtime.block_on(store.publish_content_version(bad_id, "test", Utc::now())).expect("publish it");
    for i in [&a, &b] {
        assert!(i.wait_log("content version not loaded", Duration::from_secs(60)), "no refusal logged: {}", i.log_text());
        assert_eq!(i.health_version(), Some(3));
    }
    // The report follows the log line: waited for, bounded.
    let end = Instant::now() + Duration::from_secs(10);
    let reports = loop {
        let reports = runtime.block_on(store.instance_contents()).expect("instance reports");
        if reports.iter().filter(|r| r.version == bad_id).count() == 2 || Instant::now() > end {
            break reports;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(reports.len(), 2, "{reports:?}");
    for r in &reports {
        assert_eq!((r.version, r.ok), (bad_id, false), "{r:?}");
        assert!(r.detail.contains(&format!("knowledge/{SLUG}.toml:")), "{r:?}");
    }
    eprintln!("content publication test: {:.1} s", started.elapsed().as_secs_f64());
}
