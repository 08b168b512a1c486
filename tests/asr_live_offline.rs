//! The live path hears what the offline path hears: the same spoken questions are sent
//! over SIP/RTP (G.711 A-law, 20 ms packets, SIPp) to `ivr serve` and given as WAV files
//! to `ivr transcribe`; the service's transcripts (read back from its accounting database)
//! must be as close to the text that was spoken as the files' transcripts are. Anything
//! between the RTP packets and Whisper that changes what Whisper hears (G.711, resampling,
//! the VAD's cut of the utterance's start or end, gain) shows up here as a gap.
//!
//! Prints the word error rate of both paths against the spoken text, and of one against
//! the other.

mod conversation_common;

use std::collections::HashMap;
use std::process::Command;
use std::time::Duration;

use conversation_common::{call, scenario, speak, write_pcap, Server, Step};

/// Questions written for this test (not from the evaluation sets).
const QUESTIONS: &[(&str, &str)] = &[
    ("q1", "Je voudrais savoir comment faire une demande de prime d'activité."),
    ("q2", "Mon fils est étudiant, est-ce qu'il peut avoir une aide pour son loyer ?"),
    ("q3", "Je n'arrive plus à me connecter à mon espace, j'ai perdu mon mot de passe."),
    ("q4", "Quand est-ce que les allocations familiales sont versées ce mois-ci ?"),
];

/// Lowercase words, accents kept, punctuation and apostrophes as spaces.
fn words(text: &str) -> Vec<String> {
    text.to_lowercase().chars().map(|c| if c.is_alphanumeric() { c } else { ' ' }).collect::<String>().split_whitespace().map(str::to_string).collect()
}

/// Word-level edit distance (substitutions, insertions, deletions).
fn edits(reference: &[String], hypothesis: &[String]) -> usize {
    let mut prev: Vec<usize> = (0..=hypothesis.len()).collect();
    for (i, r) in reference.iter().enumerate() {
        let mut cur = vec![i + 1; hypothesis.len() + 1];
        for (j, h) in hypothesis.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(r != h)).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[hypothesis.len()]
}

/// Word error rate of `hypothesis` against `reference`, over a whole set.
fn wer(pairs: &[(&str, &str)]) -> f64 {
    let (mut e, mut n) = (0usize, 0usize);
    for (reference, hypothesis) in pairs {
        let r = words(reference);
        e += edits(&r, &words(hypothesis));
        n += r.len();
    }
    e as f64 / n.max(1) as f64
}

#[test]
fn word_error_rate_tools_count_words() {
    assert_eq!(edits(&words("la prime d'activité"), &words("La fin d'activité.")), 1);
    assert_eq!(edits(&words("a b c"), &words("a c")), 1);
    assert_eq!(edits(&words("a b"), &words("a b c d")), 2);
    assert!((wer(&[("un deux trois quatre", "un deux trois")]) - 0.25).abs() < 1e-9);
}

#[test]
fn live_transcripts_are_as_good_as_the_offline_ones() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut speech = HashMap::new();
    let mut files = Vec::new();
    for (name, text) in QUESTIONS {
        let pcm = speak(text, dir.path(), name);
        let wav = dir.path().join(format!("{name}-8k.wav"));
        ivr_dialogue::audio::write_wav(&wav, &ivr_dialogue::tts::Pcm { rate: 8000, samples: pcm.clone() }).expect("write the 8 kHz question");
        files.push(wav);
        speech.insert(*name, pcm);
    }

    // Offline: the files, through `ivr transcribe` (the service's recognizer settings).
    let out = Command::new(env!("CARGO_BIN_EXE_ivr")).arg("transcribe").args(&files).env("IVR_LOG", "warn").output().expect("run ivr transcribe");
    assert!(out.status.success(), "ivr transcribe: {}", String::from_utf8_lossy(&out.stderr));
    let mut offline = HashMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("one JSON object per file");
        let file = v["file"].as_str().unwrap_or_default().to_string();
        let name = QUESTIONS.iter().map(|(n, _)| *n).find(|n| file.contains(&format!("{n}-8k"))).expect("a question's file");
        offline.insert(name, v["text"].as_str().unwrap_or_default().trim().to_string());
    }
    assert_eq!(offline.len(), QUESTIONS.len(), "every file transcribed");

    // Live: one call per question, over SIP/RTP, one after the other.
    let mut server = Server::start("always-open", &["--asr-workers", "1", "--asr-threads", "2"]);
    let mut call_ids = HashMap::new();
    for (name, _) in QUESTIONS {
        let pcm = &speech[name];
        let pcap = dir.path().join(format!("{name}.pcap"));
        let speech_ms = pcm.len() as u32 / 8;
        write_pcap(&pcap, pcm, 300, 12000);
        let call_id = format!("live-{name}-{}", std::process::id());
        // Spoken after the greeting has begun (barge-in), then the line stays open (silence)
        // until the bot has recognized it; the caller hangs up.
        let steps = [Step::Pause(1500), Step::Audio(pcap), Step::Pause(300 + speech_ms + 11000)];
        let (ok, sipp) = call(&server, &call_id, &scenario("0612345678", 2, &steps), Duration::from_secs(60));
        assert!(ok, "{name}: sipp failed: {sipp}\n{}", server.call_log(&call_id));
        call_ids.insert(*name, call_id);
    }
    server.stop();

    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let records = rt.block_on(async {
        let store = ivr_accounting::Store::connect(&format!("sqlite://{}", server.db.display())).await.expect("open the server's database");
        let today = ivr_accounting::chrono::Utc::now().date_naive();
        let r = store.records(today - ivr_accounting::chrono::Days::new(1), today + ivr_accounting::chrono::Days::new(1), true).await.expect("records");
        store.close().await;
        r
    });
    let mut live = HashMap::new();
    for (name, call_id) in &call_ids {
        let rec = records.iter().find(|r| r.call_id.starts_with(call_id.as_str())).unwrap_or_else(|| panic!("{name}: no call record"));
        let heard: Vec<&str> = rec.questions.iter().filter_map(|q| q.transcript.as_deref()).collect();
        assert!(!heard.is_empty(), "{name}: the service recognized nothing\n{}", server.call_log(call_id));
        live.insert(*name, heard.join(" "));
    }

    let mut off_pairs = Vec::new();
    let mut live_pairs = Vec::new();
    let mut between = Vec::new();
    for (name, text) in QUESTIONS {
        eprintln!("{name}: spoken   {text}\n    offline  {}\n    live     {}", offline[name], live[name]);
        off_pairs.push((*text, offline[name].as_str()));
        live_pairs.push((*text, live[name].as_str()));
        between.push((offline[name].as_str(), live[name].as_str()));
    }
    let (w_off, w_live, w_between) = (wer(&off_pairs), wer(&live_pairs), wer(&between));
    eprintln!("WER against the spoken text: offline {:.1} %, live {:.1} %; live against offline {:.1} %", w_off * 100.0, w_live * 100.0, w_between * 100.0);
    // The live path may lose a little to G.711 and the VAD's cut, not more. (The margin
    // allows one question in four cut differently on a loaded machine, not a systematic
    // difference such as a wrong rate or gain, which would ruin every transcript.)
    assert!(w_live <= w_off + 0.20, "the live path hears worse than the files: offline {w_off:.3}, live {w_live:.3}");
}
