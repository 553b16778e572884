//! The allocator's one setting, for programs that run pyrowire with mimalloc as their global
//! allocator (the `pyrowire` binary does: a webhook makes many small allocations, and profiles
//! showed glibc's malloc and free as a fifth of ingress time). The only `unsafe` in the crate:
//! one call into mimalloc's option table.

#![allow(unsafe_code)]

extern "C" {
    /// mimalloc's own setter for its options, linked in with the allocator.
    fn mi_option_set(option: std::ffi::c_int, value: std::ffi::c_long);
}

/// `mi_option_purge_delay` in mimalloc's `mi_option_t` (the same in its v2 and v3).
const MI_OPTION_PURGE_DELAY: std::ffi::c_int = 15;

/// Memory freed after a burst (such as a flood of stalled connections) goes back to the OS at
/// once. mimalloc's default delays giving back freed pages by a second and does it only on a
/// later free, so a server left idle after a flood kept the flood's memory for good.
/// `MIMALLOC_PURGE_DELAY`, when set, still wins. `tests/flood.rs` measures the effect. Harmless
/// when mimalloc is linked but not the global allocator.
pub fn return_freed_memory_promptly() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return;
    }
    // SAFETY: mi_option_set stores a number in mimalloc's option table, which is safe at any
    // time, from any thread; option 15 is the purge delay, and 0 means purge at once.
    unsafe { mi_option_set(MI_OPTION_PURGE_DELAY, 0) }
}
