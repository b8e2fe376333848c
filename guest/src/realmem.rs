//! Raw reads and writes of guest physical memory. The guest runs in real mode, so a
//! physical address is a pointer; these are the only places that turn one into a
//! memory access outside a typed wrapper (`lppaca::LiveLppaca`).

/// The be32 at `addr + 4` (the registration length word) if readable, else 0.
pub fn peek_len_word(addr: u64, readable_below: u64) -> u32 {
    match addr.checked_add(8) {
        Some(end) if addr != 0 && end <= readable_below => {
            // SAFETY: real mode; [addr, addr+8) lies in guest RAM below the RMA limit.
            let b = unsafe { core::ptr::read_volatile((addr + 4) as *const [u8; 4]) };
            u32::from_be_bytes(b)
        }
        _ => 0,
    }
}

/// Writes `bytes` at physical `addr`.
///
/// # Safety
/// `[addr, addr + len)` must be guest RAM below the RMA that nothing else in the guest
/// uses: a planned structure's memblock reservation or a scratch page.
pub unsafe fn poke(addr: u64, bytes: &[u8]) {
    // SAFETY: per the caller.
    unsafe { core::ptr::copy_nonoverlapping(bytes.as_ptr(), addr as *mut u8, bytes.len()) };
}
