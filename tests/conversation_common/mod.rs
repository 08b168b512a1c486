//! Harness of the conversation end-to-end tests: `ivr serve` with the real recognizer,
//! VAD, matcher and rendered prompts on a free port; spoken questions rendered with the
//! SVOX Pico French voice into RTP pcap files; SIPp scenarios built per call.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use ivr_telephony::rtp::g711::linear_to_alaw;

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[path = "../support/serve.rs"]
mod serve_run;
#[path = "../support/sipp.rs"]
mod sipp_run;
#[allow(unused_imports)]
pub use serve_run::spawn;
#[allow(unused_imports)]
pub use sipp_run::{free_udp_port, run_sipp};

pub struct Server {
    child: Child,
    pub port: u16,
    pub log: PathBuf,
    pub db: PathBuf,
    pub dir: tempfile::TempDir,
}

impl Server {
    /// `ivr serve` with the conversation; `hours` is `always-open`, `force-closed` or `calendar`.
    pub fn start(hours: &str, extra: &[&str]) -> Server {
        Server::start_logging(hours, extra, "info,tantivy=warn")
    }

    /// The same, with the server's log filter (`IVR_LOG`), e.g. "debug" for the privacy checks.
    pub fn start_logging(hours: &str, extra: &[&str], log_filter: &str) -> Server {
        Server::start_on(hours, extra, log_filter, None)
    }

    /// The same on the database `db_url` (default: a SQLite file of the server's own, `db`).
    pub fn start_on(hours: &str, extra: &[&str], log_filter: &str, db_url: Option<&str>) -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        // Distinct RTP ranges per server of this process (tests run in parallel) and per process.
        static NEXT: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(0);
        let slot = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst) % 8;
        // Below Linux's ephemeral ports (32768 and up), apart from the telephony tests' ranges.
        let base = 20000 + ((std::process::id() % 20) as u16) * 320 + slot * 40;
        let cfg = format!(
            "public_address = \"127.0.0.1\"\nmax_calls = 20\n[transfer]\n2 = \"sip:agents-choix2@127.0.0.1\"\n3 = \"sip:agents-choix3@127.0.0.1\"\n[rtp_ports]\nmin = {base}\nmax = {}\n[prompts]\ndir = \"{}\"\n",
            base + 38,
            dir.path().join("none").display()
        );
        let cfg_path = dir.path().join("ivr.toml");
        std::fs::write(&cfg_path, cfg).expect("write config");
        let log = dir.path().join("server.log");
        let db = dir.path().join("ivr.sqlite");
        let r = root();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ivr"));
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--hours", hours, "--config"])
            .arg(&cfg_path)
            .arg("--knowledge")
            .arg(r.join("knowledge"))
            .arg("--prompts")
            .arg(r.join("prompts/prompts.toml"))
            .arg("--db-url")
            .arg(db_url.map_or_else(|| format!("sqlite://{}", db.display()), str::to_string))
            .args(extra)
            .current_dir(&r)
            .env("IVR_LOG", log_filter);
        let (child, port) = serve_run::spawn(cmd, &log);
        Server { child, port, log, db, dir }
    }

    /// The server's own pid (for a kill -9 by pid in the durability test).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The server's log lines of one call (its span carries the Call-ID).
    pub fn call_log(&self, call_id: &str) -> String {
        self.log_text().lines().filter(|l| l.contains(call_id)).collect::<Vec<_>>().join("\n")
    }

    pub fn wait_call_log(&self, call_id: &str, needle: &str, within: Duration) -> bool {
        let end = Instant::now() + within;
        while Instant::now() < end {
            if self.call_log(call_id).contains(needle) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }

    /// Runs `ivr ARGS --db <this server's database>` (report, requests...); its stdout, or
    /// the command and its output when it fails.
    pub fn ivr(&self, args: &[&str]) -> Result<String, String> {
        let out = Command::new(env!("CARGO_BIN_EXE_ivr"))
            .args(args)
            .arg("--db")
            .arg(format!("sqlite://{}", self.db.display()))
            .env("IVR_LOG", "warn")
            .output()
            .map_err(|e| format!("run ivr: {e}"))?;
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        if !out.status.success() {
            return Err(format!("ivr {args:?}: {text}{}", String::from_utf8_lossy(&out.stderr)));
        }
        Ok(text)
    }

    /// Stops the server by its pid (SIGINT first so the recorder flushes, then kill).
    pub fn stop(&mut self) {
        let _ = Command::new("kill").args(["-INT", &self.child.id().to_string()]).status();
        let end = Instant::now() + Duration::from_secs(5);
        while Instant::now() < end {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Length in ms of a rendered prompt or answer (`answer/<slug>`), read from its WAV file.
pub fn clip_ms(key: &str) -> u64 {
    let dir = root().join("prompts/audio");
    let text = std::fs::read_to_string(dir.join("manifest.json")).expect("prompts/audio/manifest.json (rendered by scripts/setup.sh)");
    let manifest: serde_json::Value = serde_json::from_str(&text).expect("manifest json");
    let file = manifest["entries"][key]["file"].as_str().unwrap_or_else(|| panic!("{key} not in the manifest"));
    let pcm = ivr_dialogue::audio::read_wav(&dir.join(file)).expect("read the rendered clip");
    pcm.samples.len() as u64 * 1000 / u64::from(pcm.rate.max(1))
}

/// 8 kHz speech of `text` in the project's prompt voice (SVOX Pico, fr-FR).
pub fn speak(text: &str, dir: &Path, name: &str) -> Vec<i16> {
    let wav = dir.join(format!("{name}.wav"));
    // A little slower than Pico's default, as callers speak to a machine.
    let marked = format!("<speed level=\"85\">{text}</speed>");
    let ok = Command::new("pico2wave").args(["-l", "fr-FR", "-w"]).arg(&wav).arg(&marked).status().map(|s| s.success()).unwrap_or(false);
    assert!(ok, "pico2wave (libttspico-utils) failed for {text:?}");
    let pcm = ivr_dialogue::audio::read_wav(&wav).expect("read rendered question");
    ivr_dialogue::audio::resample(&pcm, 8000).expect("resample to 8 kHz").samples
}

/// A pcap of PCMA RTP packets (20 ms each): `lead_ms` of silence, `speech`, `tail_ms` of silence.
/// SIPp's `play_pcap_audio` replays it with the packets' timing to the bot.
pub fn write_pcap(path: &Path, speech: &[i16], lead_ms: u32, tail_ms: u32) {
    write_pcap_from(path, speech, lead_ms, tail_ms, 0)
}

/// As [`write_pcap`], the RTP sequence numbers and timestamps starting at packet
/// `first`: pcaps played one after the other on a call keep its stream going forward
/// (a receiver drops packets whose sequence number went back).
pub fn write_pcap_from(path: &Path, speech: &[i16], lead_ms: u32, tail_ms: u32, first: u32) {
    let mut samples = vec![0i16; (lead_ms * 8) as usize];
    samples.extend_from_slice(speech);
    samples.extend(std::iter::repeat_n(0i16, (tail_ms * 8) as usize));
    let mut out = Vec::new();
    for v in [
        0xa1b2c3d4u32.to_le_bytes().as_slice(),
        &2u16.to_le_bytes(),
        &4u16.to_le_bytes(),
        &0i32.to_le_bytes(),
        &0u32.to_le_bytes(),
        &65535u32.to_le_bytes(),
        &1u32.to_le_bytes(),
    ] {
        out.extend_from_slice(v);
    }
    for (i, frame) in samples.chunks(160).enumerate() {
        let mut rtp = vec![0x80u8, 8];
        let n = first.wrapping_add(i as u32);
        rtp.extend_from_slice(&(n as u16).to_be_bytes());
        rtp.extend_from_slice(&n.wrapping_mul(160).to_be_bytes());
        rtp.extend_from_slice(&0x1234_5678u32.to_be_bytes());
        rtp.extend(frame.iter().map(|s| linear_to_alaw(*s)));
        rtp.resize(12 + 160, linear_to_alaw(0));
        let udp_len = 8 + rtp.len();
        let ip_len = 20 + udp_len;
        let mut pkt = vec![0u8; 12];
        pkt.extend_from_slice(&[0x08, 0x00]);
        let mut ip = vec![0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1];
        ip[2..4].copy_from_slice(&(ip_len as u16).to_be_bytes());
        let sum = ip.chunks(2).map(|c| u32::from(u16::from_be_bytes([c[0], c[1]]))).sum::<u32>();
        let sum = !(((sum & 0xffff) + (sum >> 16)) as u16);
        ip[10..12].copy_from_slice(&sum.to_be_bytes());
        pkt.extend_from_slice(&ip);
        pkt.extend_from_slice(&4000u16.to_be_bytes());
        pkt.extend_from_slice(&4002u16.to_be_bytes());
        pkt.extend_from_slice(&(udp_len as u16).to_be_bytes());
        pkt.extend_from_slice(&[0, 0]);
        pkt.extend_from_slice(&rtp);
        let t_us = i as u64 * 20_000;
        out.extend_from_slice(&((t_us / 1_000_000) as u32).to_le_bytes());
        out.extend_from_slice(&((t_us % 1_000_000) as u32).to_le_bytes());
        out.extend_from_slice(&(pkt.len() as u32).to_le_bytes());
        out.extend_from_slice(&(pkt.len() as u32).to_le_bytes());
        out.extend_from_slice(&pkt);
    }
    std::fs::write(path, out).expect("write pcap");
}

/// One step of a caller's scenario after the call is answered.
pub enum Step {
    Pause(u32),
    /// Start sending this pcap (non-blocking; follow with a pause).
    Audio(PathBuf),
    /// A key by SIP INFO.
    Key(char),
    /// Expect the bot's REFER whose `header` matches `regexp`, accept it, report success,
    /// then expect the bot's BYE (the call ends there).
    ExpectRefer {
        header: &'static str,
        regexp: String,
    },
    /// As `ExpectRefer`, with every (header, regexp) checked on the one REFER.
    ExpectReferHeaders(Vec<(&'static str, String)>),
    /// Expect the bot's BYE (the call ends there).
    ExpectBye,
}

const HEAD: &str = r#"<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="conversation">
  <send retrans="500"><![CDATA[
      INVITE sip:3230@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "caller" <sip:@FROM@@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:3230@[remote_ip]:[remote_port]>
      Call-ID: @CALLID@
      CSeq: 1 INVITE
      Contact: <sip:@FROM@@[local_ip]:[local_port]>
      Max-Forwards: 70
      X-Flow: @FLOW@
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 8 101
      a=rtpmap:8 PCMA/8000
      a=rtpmap:101 telephone-event/8000
      a=fmtp:101 0-15
    ]]></send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="200" rtd="true"/>
  <send><![CDATA[
      ACK sip:3230@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "caller" <sip:@FROM@@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: @CALLID@
      CSeq: 1 ACK
      Contact: <sip:@FROM@@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Length: 0
    ]]></send>
"#;

fn info(cseq: u32, digit: char) -> String {
    format!(
        r#"  <send retrans="500"><![CDATA[
      INFO sip:3230@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "caller" <sip:@FROM@@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: @CALLID@
      CSeq: {cseq} INFO
      Contact: <sip:@FROM@@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Type: application/dtmf-relay
      Content-Length: [len]

      Signal={digit}
      Duration=160
    ]]></send>
  <recv response="200"/>
"#
    )
}

const OK_TO_REQUEST: &str = r#"  <send><![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0
    ]]></send>
"#;

fn refer(checks: &[(&str, &str)], cseq: u32) -> String {
    let mut eregs = String::new();
    let mut vars = Vec::new();
    for (i, (header, regexp)) in checks.iter().enumerate() {
        let var = if i == 0 { "why".to_string() } else { format!("why{i}") };
        eregs.push_str(&format!("      <ereg regexp=\"{regexp}\" search_in=\"hdr\" header=\"{header}:\" check_it=\"true\" assign_to=\"{var}\"/>\n"));
        vars.push(var);
    }
    let vars = vars.join(",");
    format!(
        r#"  <recv request="REFER">
    <action>
{eregs}      <ereg regexp="[^ ].*" search_in="hdr" header="From:" check_it="true" assign_to="srv"/>
    </action>
  </recv>
  <Reference variables="{vars}"/>
  <send><![CDATA[
      SIP/2.0 202 Accepted
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:transfer@[local_ip]:[local_port]>
      Content-Length: 0
    ]]></send>
  <send retrans="500"><![CDATA[
      NOTIFY sip:3230@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "caller" <sip:@FROM@@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: [$srv]
      Call-ID: @CALLID@
      CSeq: {cseq} NOTIFY
      Contact: <sip:@FROM@@[local_ip]:[local_port]>
      Max-Forwards: 70
      Event: refer
      Subscription-State: terminated;reason=noresource
      Content-Type: message/sipfrag;version=2.0
      Content-Length: [len]

      SIP/2.0 200 OK
    ]]></send>
  <recv response="200"/>
  <recv request="BYE"/>
{OK_TO_REQUEST}"#
    )
}

const CALLER_BYE: &str = r#"  <send retrans="500"><![CDATA[
      BYE sip:3230@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "caller" <sip:@FROM@@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: @CALLID@
      CSeq: 99 BYE
      Contact: <sip:@FROM@@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Length: 0
    ]]></send>
  <recv response="200"/>
"#;

/// The scenario of one call from `from` on `flow`. SIPp routes replies by the Call-ID it
/// makes itself, so a test's own Call-ID prefix is given to [`call`].
pub fn scenario(from: &str, flow: u8, steps: &[Step]) -> String {
    scenario_with_headers(from, flow, &[], steps)
}

/// A scenario whose INVITE carries `headers` as well (e.g. "P-Asserted-Identity: <tel:+33…>",
/// "Privacy: id"), as a trunk would add them.
pub fn scenario_with_headers(from: &str, flow: u8, headers: &[&str], steps: &[Step]) -> String {
    let extra: String = headers.iter().map(|h| format!("      {h}\n")).collect();
    let mut xml = HEAD.replace("      X-Flow: @FLOW@\n", &format!("      X-Flow: @FLOW@\n{extra}"));
    let mut cseq = 2;
    let mut ended = false;
    for step in steps {
        match step {
            Step::Pause(ms) => xml.push_str(&format!("  <pause milliseconds=\"{ms}\"/>\n")),
            Step::Audio(p) => xml.push_str(&format!("  <nop><action><exec play_pcap_audio=\"{}\"/></action></nop>\n", p.display())),
            Step::Key(d) => {
                xml.push_str(&info(cseq, *d));
                cseq += 1;
            }
            Step::ExpectRefer { header, regexp } => {
                xml.push_str(&refer(&[(*header, regexp.as_str())], cseq));
                ended = true;
            }
            Step::ExpectReferHeaders(checks) => {
                let checks: Vec<(&str, &str)> = checks.iter().map(|(h, r)| (*h, r.as_str())).collect();
                xml.push_str(&refer(&checks, cseq));
                ended = true;
            }
            Step::ExpectBye => {
                xml.push_str("  <recv request=\"BYE\"/>\n");
                xml.push_str(OK_TO_REQUEST);
                ended = true;
            }
        }
    }
    if !ended {
        xml.push_str(CALLER_BYE);
    }
    xml.push_str("</scenario>\n");
    xml.replace("@FROM@", from).replace("@CALLID@", "[call_id]").replace("@FLOW@", &flow.to_string())
}

/// Runs one scenario against the server, SIPp killed by its pid past `limit`.
pub fn call(server: &Server, call_id: &str, xml: &str, limit: Duration) -> (bool, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let sf = dir.path().join("call.xml");
    std::fs::write(&sf, xml).expect("write scenario");
    let cid = format!("{call_id}-%u-%p@%s");
    let (success, logs) = sipp_run::run_sipp(server.port, &sf, &["-cid_str", &cid], limit, &["errors.log"]);
    (success, logs.into_iter().map(|(_, content)| content).collect())
}

/// The day's figures in `ivr report --format json`: the first object (depth-first) that has
/// `calls` and `transferred`.
pub fn report_figures(v: &serde_json::Value) -> Option<&serde_json::Value> {
    match v {
        serde_json::Value::Object(m) if m.contains_key("calls") && m.contains_key("transferred") => Some(v),
        serde_json::Value::Object(m) => m.values().find_map(report_figures),
        serde_json::Value::Array(a) => a.iter().find_map(report_figures),
        _ => None,
    }
}
