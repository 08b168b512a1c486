//! Rendering with the real SVOX Pico voice (installed by scripts/setup.sh).

use ivr_dialogue::audio::{read_wav, write_wav, PHONE_RATE};
use ivr_dialogue::policy::Audio;
use ivr_dialogue::render::{studio_name, AudioLibrary, Manifest, RenderItem, Renderer, Source};
use ivr_dialogue::tts::{Pcm, PicoVoice, Voice};

fn rms(s: &[i16]) -> f64 {
    (s.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / s.len().max(1) as f64).sqrt()
}

#[test]
fn pico_speaks_french_at_16k() {
    let voice = PicoVoice::french().expect("SVOX Pico fr-FR installed (scripts/setup.sh)");
    let pcm = voice.synthesize("Bonjour, vous êtes bien à la Caf.").unwrap();
    assert_eq!(pcm.rate, 16_000);
    let ms = pcm.duration_ms();
    assert!((1000..4500).contains(&ms), "{ms} ms");
    assert!(rms(&pcm.samples) > 500.0);
}

#[test]
fn render_caches_and_rerenders_on_change_and_takes_studio_overrides() {
    let voice = PicoVoice::french().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let r = Renderer { voice: &voice, audio_dir: dir.path().join("audio"), studio_dir: dir.path().join("studio") };
    let sentence = "Pour faire une demande de prime d'activité, rendez-vous sur caf.fr, rubrique mes services en ligne.";
    let mut items = vec![
        RenderItem { key: "prompt/goodbye".into(), text: "Merci de votre appel, au revoir.".into() },
        RenderItem { key: "answer/prime-activite".into(), text: sentence.into() },
    ];
    let first = r.render_all(&items).unwrap();
    assert_eq!((first.rendered, first.cached, first.failed.len()), (2, 0, 0));

    let lib = AudioLibrary::load(&r.audio_dir).unwrap();
    let answer = lib.get(&Audio::Answer("prime-activite".into())).unwrap();
    // 17 words at Pico's pace: between 4 and 10 s, 8 kHz, not silent.
    let secs = answer.len() as f64 / f64::from(PHONE_RATE);
    assert!((4.0..10.0).contains(&secs), "{secs} s");
    assert!(rms(&answer) > 500.0);
    let manifest = Manifest::load(&r.audio_dir).unwrap();
    let file = r.audio_dir.join(&manifest.entries["answer/prime-activite"].file);
    assert_eq!(read_wav(&file).unwrap().rate, PHONE_RATE);

    let second = r.render_all(&items).unwrap();
    assert_eq!((second.rendered, second.cached), (0, 2));

    items[1].text = format!("{sentence} Vous pouvez aussi utiliser l'application.");
    let third = r.render_all(&items).unwrap();
    assert_eq!((third.rendered, third.cached, third.removed_files), (1, 1, 1));

    std::fs::create_dir_all(&r.studio_dir).unwrap();
    let studio = Pcm { rate: 16_000, samples: (0..16_000).map(|i| ((i as f32 * 0.05).sin() * 8000.0) as i16).collect() };
    write_wav(&r.studio_dir.join(studio_name("prompt/goodbye")), &studio).unwrap();
    let fourth = r.render_all(&items).unwrap();
    assert_eq!((fourth.studio, fourth.cached), (1, 1));
    let manifest = Manifest::load(&r.audio_dir).unwrap();
    let entry = &manifest.entries["prompt/goodbye"];
    assert_eq!((entry.source, entry.ms), (Source::Studio, 1000));
}

#[test]
fn espeak_fallback_speaks() {
    let voice = ivr_dialogue::tts::EspeakVoice::french().expect("espeak-ng installed (scripts/setup.sh)");
    let pcm = voice.synthesize("Bonjour, vous êtes bien à la Caf.").unwrap();
    let ms = pcm.duration_ms();
    assert!((800..5000).contains(&ms), "{ms} ms");
    assert!(rms(&pcm.samples) > 300.0);
    assert!(voice.id().starts_with("espeak-ng:fr"));
}
