//! The C memory functions that `core` calls on this target.
//!
//! The `linux-gnu` target expects libc to provide them; a bare-metal guest has none. The
//! crate is `#![no_builtins]` so these loops are not turned back into calls to themselves.

/// C `memcpy`.
///
/// # Safety
/// `dst` and `src` must be valid for `n` bytes and not overlap.
#[no_mangle]
pub unsafe extern "C" fn memcpy(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    let mut i = 0;
    while i < n {
        // SAFETY: the caller guarantees both ranges are valid for n bytes.
        unsafe { *dst.add(i) = *src.add(i) };
        i += 1;
    }
    dst
}

/// C `memmove`.
///
/// # Safety
/// `dst` and `src` must be valid for `n` bytes; they may overlap.
#[no_mangle]
pub unsafe extern "C" fn memmove(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    if (dst as usize) <= (src as usize) {
        // SAFETY: forward copy is correct when dst is below src; ranges valid per caller.
        unsafe { memcpy(dst, src, n) }
    } else {
        let mut i = n;
        while i > 0 {
            i -= 1;
            // SAFETY: backward copy for dst above src; ranges valid per caller.
            unsafe { *dst.add(i) = *src.add(i) };
        }
        dst
    }
}

/// C `memset`.
///
/// # Safety
/// `dst` must be valid for `n` bytes.
#[no_mangle]
pub unsafe extern "C" fn memset(dst: *mut u8, c: i32, n: usize) -> *mut u8 {
    let mut i = 0;
    while i < n {
        // SAFETY: valid for n bytes per caller.
        unsafe { *dst.add(i) = c as u8 };
        i += 1;
    }
    dst
}

/// C `memcmp`.
///
/// # Safety
/// `a` and `b` must be valid for `n` bytes.
#[no_mangle]
pub unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    let mut i = 0;
    while i < n {
        // SAFETY: valid for n bytes per caller.
        let (x, y) = unsafe { (*a.add(i), *b.add(i)) };
        if x != y {
            return i32::from(x) - i32::from(y);
        }
        i += 1;
    }
    0
}

/// C `bcmp`: zero when equal.
///
/// # Safety
/// `a` and `b` must be valid for `n` bytes.
#[no_mangle]
pub unsafe extern "C" fn bcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    // SAFETY: same contract as memcmp.
    unsafe { memcmp(a, b, n) }
}

// The prebuilt `alloc` of this target was compiled with unwinding, so its landing pads
// name the unwinder's symbols even though this guest aborts on panic and never unwinds.
// These definitions only satisfy the linker; reaching one means a bug, so power off.

/// Unwinder entry that `alloc`'s landing pads reference; never reached with panic=abort.
#[no_mangle]
pub extern "C" fn _Unwind_Resume() -> ! {
    crate::nb!("panic unwinder reached");
    crate::rtas::power_off()
}

/// Personality routine `alloc`'s unwind tables reference; never called without unwinding.
#[no_mangle]
pub extern "C" fn rust_eh_personality() {}
