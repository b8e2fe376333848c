//! `crashkernel=` edge cases the boot tests do not reach (found by `cargo mutants`,
//! docs/MUTATION.md): a size of 0 reserves nothing, and a range's end is exclusive
//! (`parse_crashkernel_mem`: `system_ram >= start && system_ram < end`).

use phys::PhysSize;
use topology::parse_crashkernel;

const GIB: u64 = 1 << 30;

fn reserved(cmdline: &str, ram: u64) -> Option<u64> {
    parse_crashkernel(cmdline)
        .expect("valid")
        .expect("a crashkernel= option")
        .reservation(PhysSize::new(ram))
        .map(|(size, _)| size.as_u64())
}

#[test]
fn a_size_of_zero_reserves_nothing() {
    assert_eq!(reserved("crashkernel=0", 4 * GIB), None);
    assert_eq!(reserved("crashkernel=0@64M", 4 * GIB), None);
    assert_eq!(reserved("crashkernel=256M", 4 * GIB), Some(256 << 20));
}

#[test]
fn range_ends_are_exclusive() {
    let spec = "crashkernel=1G-2G:128M,2G-:256M";
    assert_eq!(reserved(spec, GIB), Some(128 << 20));
    assert_eq!(reserved(spec, 2 * GIB - 1), Some(128 << 20));
    assert_eq!(reserved(spec, 2 * GIB), Some(256 << 20));
    assert_eq!(reserved("crashkernel=1G-2G:128M", 2 * GIB), None);
}

#[test]
fn memparse_knows_peta_and_exa() {
    assert_eq!(reserved("crashkernel=1P", 4 * GIB), Some(1 << 50));
    assert_eq!(reserved("crashkernel=2e", 4 * GIB), Some(2 << 60));
    assert_eq!(reserved("crashkernel=3t", 4 * GIB), Some(3 << 40));
}

/// memparse takes `0x` as a hexadecimal prefix only when a hex digit follows (Linux's
/// `_parse_integer_fixup_radix`); otherwise the `0` is an octal number and the `x` is
/// what `parse_crashkernel_simple` then refuses as an unrecognized character.
#[test]
fn zero_x_without_a_hex_digit_is_octal_zero() {
    let e = parse_crashkernel("crashkernel=0xg").unwrap_err();
    assert!(e.contains("unrecognized char 'x'"), "{e}");
    assert_eq!(reserved("crashkernel=0x10M", 4 * GIB), Some(16 << 20));
}
