//! Bytes decoded as a sequence of memblock operations on small arrays (so that growth
//! happens): no panic, and after every operation the arrays are sorted, disjoint,
//! merged and their totals add up; a failed operation changes nothing.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| memblock_fuzz::ops(data));
