//! End-to-end with a real softphone: a headless baresip 1.0 (Debian package)
//! calls `ivr serve --app script` over loopback, hears the greeting, keys digits
//! and is hung up on after the play-back.
//!
//! baresip runs without any audio device: its `aufile` module is the microphone
//! (a WAV we generate), the `sndfile` filter dumps what it decodes from the
//! server to `dump-*-dec.wav`, and the player is ALSA's `null` device. It is
//! driven through the `ctrl_tcp` JSON interface, because `-e` commands only run
//! at start-up and DTMF (`sndcode`) must be sent once the call is up.

mod sip_common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sip_common::{free_udp_port, rtp_range, Server};

const RATE: usize = 8000;
const FRAME: usize = 160; // 20 ms
const GREETING_TONES: [(f32, u32); 5] = [(600.0, 300), (0.0, 200), (1000.0, 500), (0.0, 200), (600.0, 200)];
const CALLER_TONE_HZ: f32 = 300.0;

/// The greeting: tone bursts and gaps, so its energy envelope has a shape that a
/// silent, constant or truncated stream cannot match.
fn greeting_samples() -> Vec<i16> {
    let mut out = Vec::new();
    for (hz, ms) in GREETING_TONES {
        let n = RATE * ms as usize / 1000;
        out.extend((0..n).map(|i| (8000.0 * (2.0 * std::f32::consts::PI * hz * i as f32 / RATE as f32).sin()) as i16));
    }
    out
}

fn tone(hz: f32, secs: usize, amp: f32) -> Vec<i16> {
    (0..RATE * secs).map(|i| (amp * (2.0 * std::f32::consts::PI * hz * i as f32 / RATE as f32).sin()) as i16).collect()
}

fn write_wav(path: &Path, samples: &[i16]) {
    let data_len = (samples.len() * 2) as u32;
    let mut b = Vec::with_capacity(44 + data_len as usize);
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&(36 + data_len).to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    b.extend_from_slice(&16u32.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes()); // PCM
    b.extend_from_slice(&1u16.to_le_bytes()); // mono
    b.extend_from_slice(&(RATE as u32).to_le_bytes());
    b.extend_from_slice(&(RATE as u32 * 2).to_le_bytes());
    b.extend_from_slice(&2u16.to_le_bytes());
    b.extend_from_slice(&16u16.to_le_bytes());
    b.extend_from_slice(b"data");
    b.extend_from_slice(&data_len.to_le_bytes());
    for s in samples {
        b.extend_from_slice(&s.to_le_bytes());
    }
    std::fs::write(path, b).expect("write wav");
}

/// Samples of a 16-bit mono WAV. The data chunk is read to the end of the file:
/// the size field is only fixed up when baresip closes the dump.
fn read_wav(path: &Path) -> Vec<i16> {
    let bytes = std::fs::read(path).unwrap_or_default();
    let mut pos = 12;
    while pos + 8 <= bytes.len() {
        let id = &bytes[pos..pos + 4];
        let len = u32::from_le_bytes([bytes[pos + 4], bytes[pos + 5], bytes[pos + 6], bytes[pos + 7]]) as usize;
        if id == b"fmt " {
            let ch = u16::from_le_bytes([bytes[pos + 10], bytes[pos + 11]]);
            let rate = u32::from_le_bytes([bytes[pos + 12], bytes[pos + 13], bytes[pos + 14], bytes[pos + 15]]);
            let bits = u16::from_le_bytes([bytes[pos + 22], bytes[pos + 23]]);
            assert_eq!((ch, rate, bits), (1, RATE as u32, 16), "unexpected dump format in {}", path.display());
        }
        if id == b"data" {
            return bytes[pos + 8..].chunks_exact(2).map(|c| i16::from_le_bytes([c[0], c[1]])).collect();
        }
        pos += 8 + len + (len & 1);
    }
    Vec::new()
}

fn envelope(samples: &[i16]) -> Vec<f64> {
    samples.chunks_exact(FRAME).map(|f| (f.iter().map(|&s| (s as f64) * (s as f64)).sum::<f64>() / FRAME as f64).sqrt()).collect()
}

/// Pearson correlation of two equal-length series (0 when either is flat).
fn correlation(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let cov: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = a.iter().map(|x| (x - ma).powi(2)).sum();
    let vb: f64 = b.iter().map(|y| (y - mb).powi(2)).sum();
    if va == 0.0 || vb == 0.0 {
        return 0.0;
    }
    cov / (va * vb).sqrt()
}

/// Best correlation of the greeting's envelope against the recording, over the
/// lags where it may start, with that lag in frames.
fn best_match(recorded: &[f64], reference: &[f64]) -> (f64, usize) {
    (0..=recorded.len().saturating_sub(reference.len()))
        .map(|lag| (correlation(&recorded[lag..lag + reference.len()], reference), lag))
        .fold((f64::MIN, 0), |best, x| if x.0 > best.0 { x } else { best })
}

/// Energy of one frequency (Goertzel), normalized by the signal's energy.
fn tone_share(samples: &[i16], hz: f32) -> f64 {
    let k = 2.0 * (2.0 * std::f64::consts::PI * hz as f64 / RATE as f64).cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &x in samples {
        let s0 = x as f64 + k * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let power = s1 * s1 + s2 * s2 - k * s1 * s2;
    let energy: f64 = samples.iter().map(|&s| (s as f64).powi(2)).sum();
    if energy == 0.0 {
        return 0.0;
    }
    2.0 * power / (energy * samples.len() as f64)
}

fn free_tcp_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral TCP port");
    l.local_addr().expect("local addr").port()
}

/// A baresip process with its own config dir, killed by its pid on drop.
struct Baresip {
    child: Child,
    ctrl_port: u16,
    dir: tempfile::TempDir,
}

impl Baresip {
    fn start(source_wav: &Path, dial: &str) -> Baresip {
        let dir = tempfile::tempdir().expect("tempdir");
        let (sip_port, ctrl_port) = (free_udp_port(), free_tcp_port());
        let (rtp_lo, rtp_hi) = rtp_range(10);
        let rec = dir.path().join("rec");
        std::fs::create_dir_all(&rec).expect("rec dir");
        // net_interface pins baresip's own address (SDP, Contact) to loopback
        // whatever interfaces the machine has.
        let config = format!(
            "poll_method epoll\n\
             net_interface 127.0.0.1\n\
             sip_listen 127.0.0.1:{sip_port}\n\
             rtp_ports {rtp_lo}-{rtp_hi}\n\
             audio_player alsa,null\n\
             audio_alert alsa,null\n\
             audio_source aufile,{src}\n\
             ausrc_format s16\n\
             auplay_format s16\n\
             snd_path {rec}\n\
             module_path /usr/lib/baresip/modules\n\
             module g711.so\n\
             module aufile.so\n\
             module alsa.so\n\
             module sndfile.so\n\
             module_tmp account.so\n\
             module_app menu.so\n\
             module_app ctrl_tcp.so\n\
             ctrl_tcp_listen 127.0.0.1:{ctrl_port}\n",
            src = source_wav.display(),
            rec = rec.display(),
        );
        std::fs::write(dir.path().join("config"), config).expect("write baresip config");
        // A local account with no registrar: regint=0 keeps it from registering.
        std::fs::write(dir.path().join("accounts"), format!("<sip:caller@127.0.0.1:{sip_port}>;regint=0\n")).expect("write accounts");
        let out = std::fs::File::create(dir.path().join("baresip.out")).expect("baresip log");
        let err = out.try_clone().expect("baresip log");
        let child = Command::new("baresip")
            .arg("-f")
            .arg(dir.path())
            .args(["-t", "25", "-e", &format!("/dial {dial}")])
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .spawn()
            .expect("spawn baresip (Debian package baresip)");
        Baresip { child, ctrl_port, dir }
    }

    fn output(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("baresip.out")).unwrap_or_default()
    }

    fn connect(&self, within: Duration) -> Ctrl {
        let end = Instant::now() + within;
        loop {
            match TcpStream::connect(("127.0.0.1", self.ctrl_port)) {
                Ok(s) => {
                    s.set_read_timeout(Some(Duration::from_secs(2))).expect("read timeout");
                    return Ctrl { stream: BufReader::new(s) };
                }
                Err(e) if Instant::now() >= end => {
                    panic!("ctrl_tcp not reachable: {e}\n{}", self.output())
                }
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }

    /// Waits (bounded) for baresip to exit by itself.
    fn wait_exit(&mut self, within: Duration) -> bool {
        let end = Instant::now() + within;
        while Instant::now() < end {
            if let Ok(Some(_)) = self.child.try_wait() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }

    fn decoded_dump(&self) -> Option<PathBuf> {
        std::fs::read_dir(self.dir.path().join("rec")).ok()?.flatten().map(|e| e.path()).find(|p| p.to_string_lossy().ends_with("-dec.wav"))
    }
}

impl Drop for Baresip {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// baresip's ctrl_tcp: netstring-framed JSON commands.
struct Ctrl {
    stream: BufReader<TcpStream>,
}

impl Ctrl {
    fn command(&mut self, command: &str, params: &str) {
        let json = format!(r#"{{"command":"{command}","params":"{params}","token":"t"}}"#);
        let frame = format!("{}:{json},", json.len());
        self.stream.get_mut().write_all(frame.as_bytes()).expect("write to ctrl_tcp");
        // Read netstrings until the response to this command (events may come first).
        for _ in 0..20 {
            let Some(msg) = self.read_netstring() else {
                return;
            };
            if msg.contains("\"response\":true") {
                assert!(msg.contains("\"ok\":true"), "baresip refused {command} {params}: {msg}");
                return;
            }
        }
    }

    fn read_netstring(&mut self) -> Option<String> {
        let mut len = Vec::new();
        self.stream.read_until(b':', &mut len).ok()?;
        let n: usize = String::from_utf8_lossy(&len).trim_end_matches(':').trim().parse().ok()?;
        let mut body = vec![0u8; n + 1]; // payload and the trailing ','
        self.stream.read_exact(&mut body).ok()?;
        Some(String::from_utf8_lossy(&body[..n]).to_string())
    }
}

#[test]
fn baresip_hears_the_greeting_and_its_keys_are_counted() {
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("tempdir");
    let prompts = dir.path().join("prompts");
    std::fs::create_dir_all(&prompts).expect("prompts dir");
    let greeting = greeting_samples();
    write_wav(&prompts.join("greeting.wav"), &greeting);
    // The caller's microphone: a quiet 300 Hz tone, long enough that its end
    // (which makes baresip hang up) comes after the server's hang-up.
    let mic = dir.path().join("mic.wav");
    write_wav(&mic, &tone(CALLER_TONE_HZ, 20, 3000.0));

    let (lo, hi) = rtp_range(40);
    let cfg = format!("public_address = \"127.0.0.1\"\nmax_calls = 4\n[rtp_ports]\nmin = {lo}\nmax = {hi}\n[prompts]\ndir = \"{}\"\n", prompts.display());
    let server = Server::start_with(dir, &cfg);
    let mut phone = Baresip::start(&mic, &format!("sip:3230@127.0.0.1:{}", server.port));
    let mut ctrl = phone.connect(Duration::from_secs(5));

    let greeting_ms = greeting.len() * 1000 / RATE;
    let needle = format!("prompt_id=greeting played_ms={greeting_ms} total_ms={greeting_ms}");
    assert!(server.wait_log(&needle, Duration::from_secs(8)), "greeting not fully played\n--- server\n{}\n--- baresip\n{}", server.log_text(), phone.output());
    for key in ["4", "2", "#"] {
        ctrl.command("sndcode", key);
        std::thread::sleep(Duration::from_millis(250));
    }
    // '#' ends collection: the server plays back what it heard, then hangs up.
    assert!(server.wait_log("call finished", Duration::from_secs(10)), "call did not end\n--- server\n{}\n--- baresip\n{}", server.log_text(), phone.output());
    let log = server.log_text();
    // Keys are counted, never logged (personal data): three presses, three RFC 4733 keys,
    // none doubled by the event's repeated end packets.
    assert_eq!(log.matches("dtmf digit").count(), 3, "expected exactly one key per press\n{log}");
    assert_eq!(log.matches("source=Rfc4733").count(), 3, "{log}");
    assert!(log.contains("digits=3"), "{log}");
    assert!(log.contains("by=Bot"), "the server, not the phone, must hang up after the play-back\n{log}");

    ctrl.command("quit", "");
    assert!(phone.wait_exit(Duration::from_secs(5)), "baresip did not quit\n{}", phone.output());

    let dump = phone.decoded_dump().unwrap_or_else(|| panic!("no decoded audio dump\n{}", phone.output()));
    let heard = read_wav(&dump);
    let reference = envelope(&greeting);
    let heard_env = envelope(&heard);
    assert!(heard_env.len() > reference.len(), "recorded only {} frames\n{}", heard_env.len(), phone.output());
    // The greeting starts within the first seconds of the call.
    let search = &heard_env[..heard_env.len().min(reference.len() + 150)];
    let (corr, lag) = best_match(search, &reference);
    assert!(corr > 0.95, "greeting envelope correlation {corr:.3} at frame {lag}");
    eprintln!("greeting envelope correlation {corr:.3} at {} ms into the dump", lag * 20);
    let start = lag * FRAME;
    let first_burst = &heard[start..start + RATE * 300 / 1000];
    let second_burst = &heard[start + RATE * 500 / 1000..start + RATE * 1000 / 1000];
    assert!(tone_share(first_burst, 600.0) > 0.5, "600 Hz burst not heard: {:.3}", tone_share(first_burst, 600.0));
    assert!(tone_share(second_burst, 1000.0) > 0.5, "1000 Hz burst not heard: {:.3}", tone_share(second_burst, 1000.0));
    // After the greeting, the server plays back the caller's own 300 Hz tone.
    let after = &heard[start + greeting.len()..];
    let played_back = after.chunks_exact(RATE / 5).any(|c| tone_share(c, CALLER_TONE_HZ) > 0.5);
    assert!(played_back, "the caller's audio was not played back");
    assert!(started.elapsed() < Duration::from_secs(30), "took {:?}", started.elapsed());
}
