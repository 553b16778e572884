//! The allocator's one setting, for programs that run pyrowire with mimalloc as their global
//! allocator (the `pyrowire` binary does: a webhook makes many small allocations, and profiles
//! showed glibc's malloc and free as a fifth of ingress time). The only `unsafe` in the crate:
//! one call into mimalloc's option table.

#![allow(unsafe_code)]

use std::time::Duration;

use libmimalloc_sys::{mi_collect, mi_option_set};

/// `mi_option_purge_delay` in mimalloc's `mi_option_t` (the same in its v2 and v3; the sys
/// crate names it only by its older name).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// How long freed pages wait before they go back to the OS (ms). Purging at once (0) made every
/// free of a page a system call and a TLB shootdown: 4 % of a webhook's CPU.
const PURGE_DELAY_MS: std::ffi::c_long = 10;

/// How often each thread that serves requests gives back what its heap freed (see [`collect`]).
pub const COLLECT_EVERY: Duration = Duration::from_millis(250);

/// Freed pages go back to the OS 10 ms after they are freed. mimalloc does that only on a later
/// allocation or free on the same thread, so an idle server kept a flood's memory for good;
/// [`collect`], run every [`COLLECT_EVERY`] on each serving thread, gives it back.
/// `MIMALLOC_PURGE_DELAY`, when set, still wins. `tests/flood.rs` measures the effect. Harmless
/// when mimalloc is linked but not the global allocator.
pub fn return_freed_memory_promptly() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return;
    }
    // SAFETY: mi_option_set stores a number in mimalloc's option table, which is safe at any
    // time, from any thread; option 15 is the purge delay, in ms.
    unsafe { mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS) }
}

/// Gives back to the OS what the calling thread's heap freed and whose purge delay expired: a
/// walk of the thread's pages, cheap when there is nothing to do.
pub fn collect() {
    // SAFETY: mi_collect works on the calling thread's own heap, which is safe at any time on
    // any thread; `false` asks for the normal, not the forced (end-of-program), collection.
    unsafe { mi_collect(false) }
}

/// Runs [`collect`] every [`COLLECT_EVERY`] on the current actix arbiter's thread.
pub(crate) fn collect_periodically() {
    actix_rt::spawn(async {
        let mut every = actix_rt::time::interval(COLLECT_EVERY);
        loop {
            every.tick().await;
            collect();
        }
    });
}
