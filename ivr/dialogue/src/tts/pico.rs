//! SVOX Pico (libttspico, Apache-2.0) through its C API: a few calls, one engine per
//! synthesis. Pico keeps global state per "system", so calls are serialized.

use std::ffi::{c_char, c_int, c_short, c_uint, c_void, CString};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::{Pcm, TtsError, Voice};

type PicoStatus = c_int;
type PicoHandle = *mut c_void;

const PICO_OK: PicoStatus = 0;
const PICO_STEP_IDLE: PicoStatus = 200;
const PICO_STEP_BUSY: PicoStatus = 201;
const PICO_DATA_PCM_16BIT: c_short = 1;
/// What pico2wave gives the engine; enough for one voice.
const MEMORY_BYTES: usize = 2_500_000;
const RATE: u32 = 16_000;

#[link(name = "ttspico")]
unsafe extern "C" {
    fn pico_initialize(memory: *mut c_void, size: c_uint, out_system: *mut PicoHandle) -> PicoStatus;
    fn pico_terminate(system: *mut PicoHandle) -> PicoStatus;
    fn pico_loadResource(system: PicoHandle, file: *const c_char, out: *mut PicoHandle) -> PicoStatus;
    fn pico_unloadResource(system: PicoHandle, res: *mut PicoHandle) -> PicoStatus;
    fn pico_getResourceName(system: PicoHandle, res: PicoHandle, out: *mut c_char) -> PicoStatus;
    fn pico_createVoiceDefinition(system: PicoHandle, voice: *const c_char) -> PicoStatus;
    fn pico_addResourceToVoiceDefinition(system: PicoHandle, voice: *const c_char, res: *const c_char) -> PicoStatus;
    fn pico_releaseVoiceDefinition(system: PicoHandle, voice: *const c_char) -> PicoStatus;
    fn pico_newEngine(system: PicoHandle, voice: *const c_char, out: *mut PicoHandle) -> PicoStatus;
    fn pico_disposeEngine(system: PicoHandle, engine: *mut PicoHandle) -> PicoStatus;
    fn pico_putTextUtf8(engine: PicoHandle, text: *const c_char, size: c_short, put: *mut c_short) -> PicoStatus;
    fn pico_getData(engine: PicoHandle, buf: *mut c_void, size: c_short, got: *mut c_short, kind: *mut c_short) -> PicoStatus;
}

static PICO: Mutex<()> = Mutex::new(());

/// The French Pico voice (text analysis + signal generation files).
#[derive(Debug, Clone)]
pub struct PicoVoice {
    ta: PathBuf,
    sg: PathBuf,
}

impl PicoVoice {
    pub const LANG_DIR: &'static str = "/usr/share/pico/lang";

    /// fr-FR from the Debian package's language directory.
    pub fn french() -> Result<Self, TtsError> {
        Self::from_dir(Path::new(Self::LANG_DIR), "fr-FR")
    }

    pub fn from_dir(dir: &Path, lang: &str) -> Result<Self, TtsError> {
        let unavailable = |reason: String| TtsError::Unavailable { voice: "pico", reason };
        let ta = dir.join(format!("{lang}_ta.bin"));
        if !ta.is_file() {
            return Err(unavailable(format!("{} missing (apt install libttspico-data)", ta.display())));
        }
        let sg = std::fs::read_dir(dir)
            .map_err(|e| unavailable(format!("{}: {e}", dir.display())))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(lang) && n.ends_with("_sg.bin")))
            .ok_or_else(|| unavailable(format!("no {lang}_*_sg.bin in {}", dir.display())))?;
        Ok(PicoVoice { ta, sg })
    }
}

fn check(status: PicoStatus, what: &str) -> Result<(), TtsError> {
    if status == PICO_OK {
        Ok(())
    } else {
        Err(TtsError::Synthesis { voice: "pico", reason: format!("{what}: status {status}") })
    }
}

fn cstring(s: &str) -> Result<CString, TtsError> {
    CString::new(s).map_err(|_| TtsError::Synthesis { voice: "pico", reason: "NUL in text or path".into() })
}

impl Voice for PicoVoice {
    fn id(&self) -> String {
        let name = |p: &Path| p.file_name().and_then(|n| n.to_str()).unwrap_or("?").to_string();
        format!("pico:{}+{}", name(&self.ta), name(&self.sg))
    }

    fn synthesize(&self, text: &str) -> Result<Pcm, TtsError> {
        let _guard = PICO.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        // Pico wants 4-byte aligned memory it owns for the whole session.
        let mut memory = vec![0u32; MEMORY_BYTES / 4];
        let mut system: PicoHandle = std::ptr::null_mut();
        // SAFETY: `memory` outlives the system (terminated below before it drops);
        // handles are only used between initialize and terminate.
        unsafe {
            check(pico_initialize(memory.as_mut_ptr().cast(), MEMORY_BYTES as c_uint, &mut system), "initialize")?;
            let result = self.run(system, text);
            pico_terminate(&mut system);
            result
        }
    }
}

impl PicoVoice {
    /// # Safety
    /// `system` must be an initialized Pico system.
    unsafe fn run(&self, system: PicoHandle, text: &str) -> Result<Pcm, TtsError> {
        let ta_path = cstring(&self.ta.to_string_lossy())?;
        let sg_path = cstring(&self.sg.to_string_lossy())?;
        let voice = cstring("PicoVoice")?;
        let mut ta: PicoHandle = std::ptr::null_mut();
        let mut sg: PicoHandle = std::ptr::null_mut();
        let mut engine: PicoHandle = std::ptr::null_mut();
        let result = (|| unsafe {
            check(pico_loadResource(system, ta_path.as_ptr(), &mut ta), "load ta")?;
            check(pico_loadResource(system, sg_path.as_ptr(), &mut sg), "load sg")?;
            let mut ta_name = [0 as c_char; 200];
            let mut sg_name = [0 as c_char; 200];
            check(pico_getResourceName(system, ta, ta_name.as_mut_ptr()), "ta name")?;
            check(pico_getResourceName(system, sg, sg_name.as_mut_ptr()), "sg name")?;
            check(pico_createVoiceDefinition(system, voice.as_ptr()), "voice")?;
            check(pico_addResourceToVoiceDefinition(system, voice.as_ptr(), ta_name.as_ptr()), "add ta")?;
            check(pico_addResourceToVoiceDefinition(system, voice.as_ptr(), sg_name.as_ptr()), "add sg")?;
            check(pico_newEngine(system, voice.as_ptr(), &mut engine), "engine")?;
            synthesize(engine, text)
        })();
        unsafe {
            if !engine.is_null() {
                pico_disposeEngine(system, &mut engine);
            }
            pico_releaseVoiceDefinition(system, voice.as_ptr());
            if !sg.is_null() {
                pico_unloadResource(system, &mut sg);
            }
            if !ta.is_null() {
                pico_unloadResource(system, &mut ta);
            }
        }
        result
    }
}

/// # Safety
/// `engine` must be a live Pico engine.
unsafe fn synthesize(engine: PicoHandle, text: &str) -> Result<Pcm, TtsError> {
    // The text must end with NUL so Pico flushes the last sentence.
    let mut bytes: Vec<u8> = text.bytes().filter(|b| *b != 0).collect();
    bytes.push(0);
    let mut samples = Vec::with_capacity(text.len() * 1200);
    let mut buf = [0i16; 1024];
    let mut offset = 0;
    while offset < bytes.len() {
        let chunk = (bytes.len() - offset).min(i16::MAX as usize);
        let mut put: c_short = 0;
        unsafe {
            check(pico_putTextUtf8(engine, bytes[offset..].as_ptr().cast(), chunk as c_short, &mut put), "put text")?;
        }
        offset += put.max(0) as usize;
        loop {
            let mut got: c_short = 0;
            let mut kind: c_short = 0;
            let status = unsafe { pico_getData(engine, buf.as_mut_ptr().cast(), (buf.len() * 2) as c_short, &mut got, &mut kind) };
            if got > 0 && kind == PICO_DATA_PCM_16BIT {
                samples.extend_from_slice(&buf[..(got as usize / 2).min(buf.len())]);
            }
            match status {
                PICO_STEP_BUSY => continue,
                PICO_STEP_IDLE => break,
                other => return check(other, "get data").map(|_| Pcm { rate: RATE, samples: Vec::new() }),
            }
        }
    }
    Ok(Pcm { rate: RATE, samples })
}
