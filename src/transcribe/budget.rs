//! The decoding budget: what bounds the work one recording can cause.
//!
//! Three limits, the first two deterministic so that a recording gives the
//! same transcript on every run and on every machine:
//! - **tokens per decoding pass**: a window may produce at most
//!   `16 + tokens_per_second × its speech seconds` tokens per pass (whisper.cpp
//!   allows 220 whatever the audio, which a decoding loop fills); past the
//!   cap the logits filter leaves only end-of-text;
//! - **passes per window**: whisper.cpp re-encodes a window from the last
//!   timestamp it decoded ("seek"); more than `MAX_PASSES` passes over one
//!   window means it is going round in circles;
//! - **CPU time per job**: `max(min_budget_s, max_cost_factor × the
//!   recording's duration)` CPU seconds, whichever threads decode its
//!   windows: each window books its thread's CPU time to the job when it
//!   is done (CPU, not wall time, so a busy machine does not cut
//!   transcripts short, as long as each window has one Whisper thread:
//!   several spin while they wait for each other, and on an oversubscribed
//!   machine that spinning is CPU time too; see `AsrOptions::threads`).
//!   Windows not started by
//!   then are not transcribed, and a pass under way is stopped; their speech
//!   is reported as unclear (never as silence) and the result says so. Only a
//!   machine far slower or busier than the default model needs ever reaches
//!   it.
//!
//! Whisper's own temperature fallback (random sampling at rising
//! temperatures, up to five extra passes) is switched off: it made cost and
//! text differ from run to run. In its place one deterministic beam-search
//! pass re-decodes a window whose greedy text the recognizer scored as
//! unlikely, when the budget allows.

use std::ffi::c_void;
use std::os::raw::c_int;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use whisper_rs::{
    WhisperSysContext as whisper_context, WhisperSysState as whisper_state,
    WhisperTokenData as whisper_token_data,
};

/// Most encoder passes over one window.
pub const MAX_PASSES: usize = 3;
/// whisper.cpp's own ceiling on tokens per pass (text context / 2 − 4).
const WHISPER_MAX_TOKENS: usize = 220;

/// A job's recognition budget in CPU seconds, whichever threads decode
/// its windows. CPU time, not wall time: a busy machine slows a job down
/// but does not make it lose its transcript.
#[derive(Debug, Clone)]
pub struct Budget {
    limit_s: f64,
    /// CPU microseconds booked by the windows decoded so far.
    spent_us: Arc<AtomicU64>,
}

impl Budget {
    /// `max(min_s, factor × duration)` CPU seconds for the whole job.
    pub fn for_audio(duration_s: f64, factor: f64, min_s: f64) -> Self {
        Budget {
            limit_s: (factor * duration_s).max(min_s).clamp(0.0, 1.0e6),
            spent_us: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Starts the meter for one window, on the thread that decodes it,
    /// with `threads` Whisper threads: the calling thread's CPU time counts
    /// `threads` times (the others wait for it at every step, spinning, so
    /// they spend about as much).
    pub fn start_with(&self, threads: usize) -> Deadline {
        Deadline {
            start_cpu_s: thread_cpu_s(),
            limit_s: self.limit_s,
            spent_us: Some(self.spent_us.clone()),
            threads: threads.max(1),
        }
    }
}

/// CPU seconds used by the calling thread.
fn thread_cpu_s() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec through a valid pointer.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return 0.0;
    }
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

/// The budget as one window sees it: what the job's finished windows
/// booked, plus this window's CPU time on the thread that decodes it
/// (whisper runs its single-threaded work, and calls back, on that
/// thread). Windows under way on other threads are not seen until they
/// finish, so a job may overrun by at most one window per thread.
#[derive(Debug, Clone)]
pub struct Deadline {
    start_cpu_s: f64,
    limit_s: f64,
    spent_us: Option<Arc<AtomicU64>>,
    threads: usize,
}

impl Deadline {
    /// CPU seconds this window has used since [`Budget::start`]: this
    /// thread's, times the Whisper threads decoding it.
    pub fn elapsed_s(&self) -> f64 {
        (thread_cpu_s() - self.start_cpu_s).max(0.0) * self.threads as f64
    }

    /// How many Whisper threads decode this window.
    pub fn threads(&self) -> usize {
        self.threads
    }

    fn booked_s(&self) -> f64 {
        self.spent_us
            .as_ref()
            .map_or(0.0, |s| s.load(Ordering::Relaxed) as f64 * 1e-6)
    }

    pub fn passed(&self) -> bool {
        self.booked_s() + self.elapsed_s() >= self.limit_s
    }

    /// Books this window's CPU time to its job; call once the window is
    /// done.
    pub fn book(self) {
        if let Some(s) = &self.spent_us {
            s.fetch_add((self.elapsed_s() * 1e6) as u64, Ordering::Relaxed);
        }
    }

    /// No limit worth speaking of (the plain-whisper baseline).
    pub fn unlimited(threads: usize) -> Self {
        Deadline {
            start_cpu_s: 0.0,
            limit_s: f64::INFINITY,
            spent_us: None,
            threads: threads.max(1),
        }
    }
}

/// Tokens one pass over a window may produce.
pub fn token_cap(speech_s: f64, tokens_per_second: f64) -> usize {
    let n = 16.0 + tokens_per_second.max(0.0) * speech_s.max(0.0);
    (n.ceil() as usize).min(WHISPER_MAX_TOKENS)
}

/// State shared with whisper.cpp's callbacks for one `full()` call. It
/// must outlive that call (it lives on the caller's stack).
pub struct Guard {
    cap: usize,
    eot: i32,
    n_vocab: usize,
    passes: AtomicUsize,
    deadline: Deadline,
    /// A pass was refused (too many, or out of time).
    pub stopped: AtomicBool,
    /// A pass reached the token cap.
    pub capped: AtomicBool,
}

impl Guard {
    pub fn new(cap: usize, eot: i32, n_vocab: usize, deadline: Deadline) -> Self {
        Guard {
            cap,
            eot,
            n_vocab,
            passes: AtomicUsize::new(0),
            deadline,
            stopped: AtomicBool::new(false),
            capped: AtomicBool::new(false),
        }
    }

    pub fn user_data(&self) -> *mut c_void {
        self as *const Guard as *mut c_void
    }
}

/// whisper.cpp calls this before each encoder pass; `false` ends the
/// window with the segments decoded so far.
///
/// # Safety
/// `user_data` must point to a live [`Guard`].
pub unsafe extern "C" fn before_pass(
    _ctx: *mut whisper_context,
    _state: *mut whisper_state,
    user_data: *mut c_void,
) -> bool {
    // SAFETY: the caller passes a pointer to a Guard that outlives full().
    let Some(g) = (unsafe { (user_data as *const Guard).as_ref() }) else {
        return true;
    };
    let n = g.passes.fetch_add(1, Ordering::Relaxed);
    let ok = n < MAX_PASSES && !g.deadline.passed();
    if !ok {
        g.stopped.store(true, Ordering::Relaxed);
    }
    ok
}

/// whisper.cpp calls this for each token about to be chosen: past the cap
/// only end-of-text remains. Reads the guard only (several beams may call
/// it at once).
///
/// # Safety
/// `user_data` must point to a live [`Guard`] and `logits` to `n_vocab`
/// floats.
pub unsafe extern "C" fn cap_tokens(
    _ctx: *mut whisper_context,
    _state: *mut whisper_state,
    _tokens: *const whisper_token_data,
    n_tokens: c_int,
    logits: *mut f32,
    user_data: *mut c_void,
) {
    // SAFETY: as documented above.
    let Some(g) = (unsafe { (user_data as *const Guard).as_ref() }) else {
        return;
    };
    if logits.is_null() || (n_tokens.max(0) as usize) < g.cap {
        return;
    }
    // SAFETY: whisper.cpp hands the logits of the whole vocabulary.
    let l = unsafe { std::slice::from_raw_parts_mut(logits, g.n_vocab) };
    l.fill(f32::NEG_INFINITY);
    if let Some(x) = l.get_mut(g.eot.max(0) as usize) {
        *x = 0.0;
    }
    g.capped.store(true, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_caps() {
        assert_eq!(token_cap(0.0, 10.0), 16);
        assert_eq!(token_cap(3.0, 10.0), 46);
        assert_eq!(token_cap(28.0, 10.0), 220);
        assert_eq!(token_cap(-1.0, 10.0), 16);
    }

    #[test]
    fn cap_leaves_only_end_of_text() {
        let g = Guard::new(4, 2, 5, Budget::for_audio(10.0, 1.0, 1.0).start_with(1));
        let mut logits = vec![1.0f32; 5];
        // Below the cap nothing changes.
        unsafe {
            cap_tokens(
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                std::ptr::null(),
                3,
                logits.as_mut_ptr(),
                g.user_data(),
            )
        };
        assert_eq!(logits, vec![1.0; 5]);
        unsafe {
            cap_tokens(
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                std::ptr::null(),
                4,
                logits.as_mut_ptr(),
                g.user_data(),
            )
        };
        assert_eq!(logits[2], 0.0);
        assert!(logits
            .iter()
            .enumerate()
            .all(|(i, &x)| i == 2 || x == f32::NEG_INFINITY));
        assert!(g.capped.load(Ordering::Relaxed));
    }

    #[test]
    fn windows_share_one_budget_per_job() {
        let b = Budget::for_audio(0.05, 1.0, 0.0);
        let first = b.start_with(1);
        assert!(!first.passed());
        // Burn a little more CPU than the whole budget on this thread.
        let t = thread_cpu_s();
        let mut x = 0u64;
        while thread_cpu_s() - t < 0.06 {
            x = x.wrapping_mul(31).wrapping_add(7);
        }
        std::hint::black_box(x);
        assert!(first.passed());
        first.book();
        // A window started later, on any thread, finds the budget spent.
        let on_another = std::thread::spawn(move || b.start_with(1).passed());
        assert!(on_another.join().unwrap());
    }

    #[test]
    fn passes_are_bounded() {
        let g = Guard::new(4, 2, 5, Budget::for_audio(10.0, 1.0, 1.0).start_with(1));
        let ok: Vec<bool> = (0..5)
            .map(|_| unsafe {
                before_pass(std::ptr::null_mut(), std::ptr::null_mut(), g.user_data())
            })
            .collect();
        assert_eq!(ok, vec![true, true, true, false, false]);
        assert!(g.stopped.load(Ordering::Relaxed));
        let late = Guard::new(4, 2, 5, Budget::for_audio(10.0, 0.0, 0.0).start_with(1));
        assert!(!unsafe {
            before_pass(std::ptr::null_mut(), std::ptr::null_mut(), late.user_data())
        });
    }
}
