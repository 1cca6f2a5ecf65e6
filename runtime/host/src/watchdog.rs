//! The deadline for host calls blocked in the kernel.
//!
//! Epoch interruption stops guest code at its deadline, but not a host call the guest made
//! that blocks in the kernel: opening a named pipe that no one writes to (one planted in an
//! `allow_dirs` directory) would hold the training thread forever. So every thread that calls
//! plugins has a slot holding its current call's deadline; the epoch ticker checks the slots,
//! and a thread still in a call well past its deadline is sent `SIGURG`, whose handler does
//! nothing and is installed without `SA_RESTART`: the blocked system call returns `EINTR`,
//! the WASI call fails with `interrupted`, and the guest, back in wasm, traps at the epoch
//! check that is overdue. The signal is only ever sent to a thread inside an overdue call.
//!
//! Deadlines are counted in the ticker's ticks ([`ticks`]), not read from a clock: arming a
//! call then costs an atomic load instead of a clock read, on every call of every plugin.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::engine::TICK;

/// How long past its deadline a call may be blocked before its thread is interrupted, and
/// how often it is interrupted again while it stays blocked.
const GRACE: Duration = Duration::from_millis(100);

/// Ticks of the epoch ticker so far.
static TICKS: AtomicU64 = AtomicU64::new(0);

/// The ticker's count: a clock of [`TICK`] resolution that costs one load to read.
pub fn ticks() -> u64 {
    TICKS.load(Ordering::Relaxed)
}

/// The tick by which a call allowed `span` ticks that begins now must end (one more tick, as
/// the current one is already partly over).
pub fn deadline_tick(span: u64) -> u64 {
    ticks() + span + 1
}

struct Slot {
    thread: libc::pthread_t,
    /// The tick at which the current call must end; 0: no call.
    deadline: AtomicU64,
    /// The tick at which the thread was last interrupted.
    kicked: AtomicU64,
}

static SLOTS: Mutex<Vec<Arc<Slot>>> = Mutex::new(Vec::new());

/// This thread's slot, in [`SLOTS`] from the thread's first call until the thread ends.
struct Registered(Arc<Slot>);

impl Drop for Registered {
    fn drop(&mut self) {
        // A thread that has ended must never be signalled (its id may be reused).
        let mut slots = SLOTS.lock().unwrap_or_else(|p| p.into_inner());
        slots.retain(|s| !Arc::ptr_eq(s, &self.0));
    }
}

thread_local! {
    static MINE: Registered = {
        let slot = Arc::new(Slot {
            // SAFETY: pthread_self has no preconditions.
            #[allow(unsafe_code, reason = "see the SAFETY note")]
            thread: unsafe { libc::pthread_self() },
            deadline: AtomicU64::new(0),
            kicked: AtomicU64::new(0),
        });
        SLOTS.lock().unwrap_or_else(|p| p.into_inner()).push(slot.clone());
        Registered(slot)
    };
}

/// A call of this thread is in progress until the guard drops.
pub struct CallGuard(());

impl Drop for CallGuard {
    fn drop(&mut self) {
        MINE.with(|s| s.0.deadline.store(0, Ordering::Relaxed));
    }
}

/// A call that must end by tick `deadline` ([`deadline_tick`]) begins on this thread.
pub fn begin(deadline: u64) -> CallGuard {
    MINE.with(|s| s.0.deadline.store(deadline.max(1), Ordering::Relaxed));
    CallGuard(())
}

extern "C" fn interrupted(_: libc::c_int) {}

/// Installs the do-nothing `SIGURG` handler (once, when the plugin runtime starts).
pub fn install() {
    // SAFETY: a handler that does nothing is async-signal-safe; `sa_flags` without
    // SA_RESTART is what makes a blocked system call return EINTR. SIGURG is ignored by
    // default and used by nothing else in weft.
    #[allow(unsafe_code, reason = "see the SAFETY note")]
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = interrupted as *const () as usize;
        action.sa_flags = 0;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(libc::SIGURG, &action, std::ptr::null_mut());
    }
}

/// Counts a tick and interrupts every thread blocked past its call's deadline (called by
/// the epoch ticker).
pub fn tick() {
    let t = TICKS.fetch_add(1, Ordering::Relaxed) + 1;
    let grace = GRACE.as_nanos().div_ceil(TICK.as_nanos()) as u64;
    let slots = SLOTS.lock().unwrap_or_else(|p| p.into_inner());
    for slot in slots.iter() {
        let deadline = slot.deadline.load(Ordering::Relaxed);
        if deadline == 0 || t < deadline + grace {
            continue;
        }
        if t < slot.kicked.load(Ordering::Relaxed) + grace {
            continue;
        }
        slot.kicked.store(t, Ordering::Relaxed);
        // SAFETY: the slot is in SLOTS only while its thread lives (`Registered` removes
        // it, under the lock held here, as the thread ends), so the id names a live thread.
        #[allow(unsafe_code, reason = "see the SAFETY note")]
        unsafe {
            libc::pthread_kill(slot.thread, libc::SIGURG);
        }
    }
}
