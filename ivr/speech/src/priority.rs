//! Per-thread CPU priority (Linux nice values are per thread).
//!
//! The media path (RTP every 20 ms, the VAD and endpointer of every call) must get the CPU
//! when it needs it, whatever else runs on the host. `ivr serve` raises the threads of its
//! runtime ([`MEDIA_BOOST`]) rather than lowering recognition below everything else on the
//! host: a lowered recognizer starves behind any ordinary load (a database, a backup, a
//! report) and questions take tens of seconds. Raising needs CAP_SYS_NICE (root, or
//! `AmbientCapabilities=CAP_SYS_NICE` / `Nice=` in the systemd unit, see
//! `contrib/systemd/ivr.service`); without it the service lowers recognition a little
//! instead ([`FALLBACK_ASR_NICE`]) and says so.

/// How much higher than the process the media threads run when permitted.
pub const MEDIA_BOOST: i32 = -10;

/// When permitted, how much higher than the process recognition runs: above the host's
/// ordinary load (a busy loop at nice 0 takes a quarter of a core from it, not half), below
/// the media path, which must never wait for a transcription.
pub const ASR_BOOST: i32 = -5;

/// When the media threads cannot be raised: how much lower recognition runs instead.
pub const FALLBACK_ASR_NICE: i32 = 5;

/// The calling thread's nice value (0 where unknown).
pub fn this_thread_nice() -> i32 {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: gettid and getpriority take plain integers and touch no memory of ours.
        unsafe {
            let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
            libc::getpriority(libc::PRIO_PROCESS, tid)
        }
    }
    #[cfg(not(target_os = "linux"))]
    0
}

/// The process's base nice value (its main thread's), which threads started from raised
/// threads would otherwise not get back: a new thread inherits its creator's value.
pub fn process_nice() -> i32 {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: getpid and getpriority take plain integers and touch no memory of ours.
        unsafe { libc::getpriority(libc::PRIO_PROCESS, libc::getpid() as libc::id_t) }
    }
    #[cfg(not(target_os = "linux"))]
    0
}

/// Sets the calling thread's nice value to `nice` (clamped to -20..=19).
pub fn set_this_thread(nice: i32) -> std::io::Result<i32> {
    adjust_this_thread(nice - this_thread_nice())
}

/// Changes the calling thread's nice value by `delta` (negative = higher priority), within
/// -20..=19. Returns the new value, or the OS error (EACCES without CAP_SYS_NICE).
pub fn adjust_this_thread(delta: i32) -> std::io::Result<i32> {
    #[cfg(target_os = "linux")]
    {
        let target = (this_thread_nice() + delta).clamp(-20, 19);
        // SAFETY: gettid and setpriority take plain integers and touch no memory of ours.
        let rc = unsafe {
            let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
            libc::setpriority(libc::PRIO_PROCESS, tid, target)
        };
        if rc != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(target)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = delta;
        Err(std::io::Error::new(std::io::ErrorKind::Unsupported, "per-thread priority is Linux-only here"))
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn lowering_a_thread_touches_that_thread_only() {
        let before = this_thread_nice();
        let (theirs, ours_seen) = std::thread::spawn(move || {
            let n = adjust_this_thread(3).unwrap();
            (n, this_thread_nice())
        })
        .join()
        .unwrap();
        assert_eq!(theirs, (before + 3).min(19));
        assert_eq!(ours_seen, theirs);
        assert_eq!(this_thread_nice(), before, "the spawning thread keeps its priority");
    }

    #[test]
    fn a_thread_started_from_a_lowered_one_can_go_back_to_the_process_priority() {
        let base = process_nice();
        let (inherited, reset) = std::thread::spawn(move || {
            adjust_this_thread(4).unwrap();
            std::thread::spawn(move || {
                let inherited = this_thread_nice();
                (inherited, set_this_thread(base).unwrap())
            })
            .join()
            .unwrap()
        })
        .join()
        .unwrap();
        assert_eq!(inherited, (base + 4).min(19), "nice is inherited by new threads");
        assert_eq!(reset, base);
    }
}
