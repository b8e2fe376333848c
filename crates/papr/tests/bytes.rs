//! Byte order, initial values and encode -> bytes -> decode round trips.
//!
//! Offsets written here are Linux's (see layout_linux.rs), not read from the Rust tables.

use papr::{DtlEntry, Lppaca, SlbShadow, SlbShadowEntry};
use proptest::prelude::*;
use zerocopy::byteorder::big_endian::{U16, U32, U64};

#[test]
fn multi_byte_fields_are_big_endian() {
    let mut lp = Lppaca::ZEROED;
    lp.size = U16::new(0x0102);
    lp.yield_count = U32::new(0x0102_0304);
    lp.dtl_idx = U64::new(0x0102_0304_0506_0708);
    lp.slb_count = U16::new(0x0a0b);
    let b = lp.as_bytes();
    assert_eq!(&b[4..6], &[0x01, 0x02]);
    assert_eq!(&b[256..260], &[1, 2, 3, 4]);
    assert_eq!(&b[536..544], &[1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(&b[252..254], &[0x0a, 0x0b]);
    assert_eq!(b.iter().filter(|&&x| x != 0).count(), 2 + 4 + 8 + 2);

    let mut s = SlbShadow::ZEROED;
    s.buffer_length = U32::new(0x0102_0304);
    s.save_area[1].vsid = U64::new(0x1122_3344_5566_7788);
    let b = s.as_bytes();
    assert_eq!(&b[4..8], &[1, 2, 3, 4]);
    assert_eq!(
        &b[40..48],
        &[0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88]
    );

    let mut d = DtlEntry::ZEROED;
    d.processor_id = U16::new(0x0102);
    d.srr1 = U64::new(0x0102_0304_0506_0708);
    let b = d.as_bytes();
    assert_eq!(&b[2..4], &[1, 2]);
    assert_eq!(&b[40..48], &[1, 2, 3, 4, 5, 6, 7, 8]);
}

#[test]
fn lppaca_linux_init_bytes() {
    let lp = Lppaca::linux_init();
    let b = lp.as_bytes();
    assert_eq!(&b[0..4], &[0xd3, 0x97, 0xd7, 0x81]);
    assert_eq!(&b[4..6], &[0x04, 0x00]);
    assert_eq!(b[186], 1, "fpregs_in_use");
    assert_eq!(&b[252..254], &[0x00, 0x40], "slb_count 64");
    let nonzero: Vec<usize> = (0..640).filter(|&i| b[i] != 0).collect();
    assert_eq!(nonzero, [0, 1, 2, 3, 4, 186, 253]);
    assert_eq!(lp.registered_size(), 0x400);
    assert!(!lp.is_shared_proc());
    assert!(!lp.is_yielded());
    assert_eq!(Lppaca::default(), Lppaca::ZEROED);
}

#[test]
fn slb_shadow_linux_init_bytes() {
    let s = SlbShadow::linux_init();
    let b = s.as_bytes();
    assert_eq!(b.len(), 128);
    assert_eq!(&b[0..8], &[0, 0, 0, 2, 0, 0, 0, 128]);
    assert!(b[8..].iter().all(|&x| x == 0));
}

#[test]
fn shared_proc_bit_is_byte_9_value_2() {
    let mut bytes = [0u8; 640];
    bytes[9] = 0x2;
    let lp = Lppaca::from_bytes(&bytes).unwrap();
    assert!(lp.is_shared_proc());
    assert_eq!(lp.__old_status, papr::LPPACA_OLD_SHARED_PROC);
}

#[test]
fn short_buffers_are_errors() {
    let bytes = [0u8; 639];
    let err = Lppaca::from_bytes(&bytes).unwrap_err();
    assert_eq!((err.needed, err.got), (640, 639));
    assert_eq!(
        err.to_string(),
        "struct lppaca needs 640 bytes, only 639 given"
    );
    assert!(SlbShadow::from_bytes(&[0; 127]).is_err());
    assert!(DtlEntry::from_bytes(&[0; 47]).is_err());
    assert!(DtlEntry::from_bytes(&[]).is_err());
    // Longer buffers and odd alignments are fine.
    let big = [0u8; 1025];
    assert_eq!(Lppaca::from_bytes(&big[1..]), Ok(Lppaca::ZEROED));
}

proptest! {
    #[test]
    fn lppaca_bytes_round_trip(bytes in proptest::collection::vec(any::<u8>(), 640)) {
        let lp = Lppaca::from_bytes(&bytes).unwrap();
        prop_assert_eq!(lp.as_bytes(), &bytes[..]);
        prop_assert_eq!(Lppaca::from_bytes(lp.as_bytes()), Ok(lp));
    }

    #[test]
    fn lppaca_fields_round_trip(
        size: u16, yc: u32, disp: u32, faults: u64, idx: u64, page_ins: u32, status: u8,
    ) {
        let mut lp = Lppaca::linux_init();
        lp.size = U16::new(size);
        lp.yield_count = U32::new(yc);
        lp.dispersion_count = U32::new(disp);
        lp.cmo_faults = U64::new(faults);
        lp.dtl_idx = U64::new(idx);
        lp.page_ins = U32::new(page_ins);
        lp.__old_status = status;
        let b = lp.as_bytes().to_vec();
        prop_assert_eq!(&b[4..6], &size.to_be_bytes()[..]);
        prop_assert_eq!(&b[256..260], &yc.to_be_bytes()[..]);
        prop_assert_eq!(&b[260..264], &disp.to_be_bytes()[..]);
        prop_assert_eq!(&b[264..272], &faults.to_be_bytes()[..]);
        prop_assert_eq!(&b[536..544], &idx.to_be_bytes()[..]);
        prop_assert_eq!(&b[384..388], &page_ins.to_be_bytes()[..]);
        prop_assert_eq!(b[9], status);
        let back = Lppaca::from_bytes(&b).unwrap();
        prop_assert_eq!(back, lp);
        prop_assert_eq!(back.yield_count(), yc);
        prop_assert_eq!(back.is_yielded(), yc % 2 == 1);
        prop_assert_eq!(back.dtl_idx(), idx);
        prop_assert_eq!(back.is_shared_proc(), status & 2 != 0);
    }

    #[test]
    fn slb_shadow_fields_round_trip(persistent: u32, len: u32, e0: u64, v0: u64, e1: u64, v1: u64) {
        let mut s = SlbShadow::ZEROED;
        s.persistent = U32::new(persistent);
        s.buffer_length = U32::new(len);
        s.save_area = [
            SlbShadowEntry { esid: U64::new(e0), vsid: U64::new(v0) },
            SlbShadowEntry { esid: U64::new(e1), vsid: U64::new(v1) },
        ];
        let b = s.as_bytes().to_vec();
        prop_assert_eq!(&b[0..4], &persistent.to_be_bytes()[..]);
        prop_assert_eq!(&b[4..8], &len.to_be_bytes()[..]);
        prop_assert_eq!(&b[16..24], &e0.to_be_bytes()[..]);
        prop_assert_eq!(&b[24..32], &v0.to_be_bytes()[..]);
        prop_assert_eq!(&b[32..40], &e1.to_be_bytes()[..]);
        prop_assert_eq!(&b[40..48], &v1.to_be_bytes()[..]);
        prop_assert!(b[48..].iter().all(|&x| x == 0));
        prop_assert_eq!(SlbShadow::from_bytes(&b), Ok(s));
    }

    #[test]
    fn dtl_entry_bytes_round_trip(bytes in proptest::collection::vec(any::<u8>(), 48..200)) {
        let d = DtlEntry::from_bytes(&bytes).unwrap();
        prop_assert_eq!(d.as_bytes(), &bytes[..48]);
        prop_assert_eq!(d.processor_id.get(), u16::from_be_bytes([bytes[2], bytes[3]]));
        let tb = u64::from_be_bytes(bytes[16..24].try_into().unwrap());
        prop_assert_eq!(d.timebase.get(), tb);
    }

    /// Decoding never panics, whatever the length.
    #[test]
    fn any_length_decodes_or_errors(bytes in proptest::collection::vec(any::<u8>(), 0..700)) {
        prop_assert_eq!(Lppaca::from_bytes(&bytes).is_ok(), bytes.len() >= 640);
        prop_assert_eq!(SlbShadow::from_bytes(&bytes).is_ok(), bytes.len() >= 128);
        prop_assert_eq!(DtlEntry::from_bytes(&bytes).is_ok(), bytes.len() >= 48);
    }
}
