//! A bump allocator over a static arena: the guest plans once and powers off, so it never
//! needs to give memory back (dealloc is a no-op). The live script runner, which runs
//! thousands of scripts in one boot, rewinds the arena to a mark after each script.

use core::alloc::{GlobalAlloc, Layout};
use core::sync::atomic::{AtomicUsize, Ordering};

const ARENA_BYTES: usize = 8 << 20;

#[repr(C, align(4096))]
struct Arena([u8; ARENA_BYTES]);

static mut ARENA: Arena = Arena([0; ARENA_BYTES]);
static NEXT: AtomicUsize = AtomicUsize::new(0);

/// The guest's global allocator.
pub struct Bump;

// SAFETY: alloc hands out disjoint, suitably aligned ranges of ARENA (the offset only
// grows, via compare-and-swap), or null when the arena is exhausted.
unsafe impl GlobalAlloc for Bump {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let base = core::ptr::addr_of_mut!(ARENA) as usize;
        let mut cur = NEXT.load(Ordering::Relaxed);
        loop {
            let start = match (base + cur).checked_next_multiple_of(layout.align()) {
                Some(s) => s - base,
                None => return core::ptr::null_mut(),
            };
            let end = match start.checked_add(layout.size()) {
                Some(e) if e <= ARENA_BYTES => e,
                _ => return core::ptr::null_mut(),
            };
            match NEXT.compare_exchange_weak(cur, end, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return (base + start) as *mut u8,
                Err(now) => cur = now,
            }
        }
    }

    unsafe fn dealloc(&self, _ptr: *mut u8, _layout: Layout) {}
}

/// Bytes handed out so far.
pub fn used() -> usize {
    NEXT.load(Ordering::Relaxed)
}

/// Everything allocated after a [`mark`] is given back at once.
///
/// # Safety
/// No allocation made after `mark` was taken may still be in use, and no other CPU may
/// allocate concurrently.
pub unsafe fn rewind(mark: usize) {
    NEXT.store(mark, Ordering::Relaxed);
}

/// The current arena offset, for [`rewind`].
pub fn mark() -> usize {
    used()
}
