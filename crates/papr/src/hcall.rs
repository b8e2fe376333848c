//! The hypervisor-call ABI used by the VPA protocol.
//!
//! A pSeries guest issues `sc 1` with the opcode in r3 and arguments in r4..r12; the
//! hypervisor returns a status in r3 and up to nine values in r4..r12. Linux's names and
//! numbers come from `arch/powerpc/include/asm/hvcall.h`; the H_REGISTER_VPA subfunction
//! sits in bits 16..18 (IBM numbering) of the flags word, i.e. shifted left by 45.

use core::fmt;

/// An hcall opcode (the value in r3 on entry).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Opcode(pub u64);

impl Opcode {
    /// `H_PUT_TERM_CHAR`: write up to 16 bytes to a virtual terminal.
    pub const H_PUT_TERM_CHAR: Self = Self(0x58);
    /// `H_REGISTER_VPA`: register or deregister a VPA, DTL or SLB shadow.
    pub const H_REGISTER_VPA: Self = Self(0xDC);
    /// `H_HOME_NODE_ASSOCIATIVITY`: the associativity domains of a vCPU (VPHN).
    pub const H_HOME_NODE_ASSOCIATIVITY: Self = Self(0x2EC);
}

impl fmt::Display for Opcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::H_PUT_TERM_CHAR => f.write_str("H_PUT_TERM_CHAR"),
            Self::H_REGISTER_VPA => f.write_str("H_REGISTER_VPA"),
            Self::H_HOME_NODE_ASSOCIATIVITY => f.write_str("H_HOME_NODE_ASSOCIATIVITY"),
            Self(other) => write!(f, "hcall {other:#x}"),
        }
    }
}

/// Bit position of the H_REGISTER_VPA subfunction (Linux `H_VPA_FUNC_SHIFT`, 63 - 18).
pub const H_VPA_FUNC_SHIFT: u32 = 45;
/// Mask of the subfunction field after shifting (Linux `H_VPA_FUNC_MASK`).
pub const H_VPA_FUNC_MASK: u64 = 7;

/// The subfunction of an H_REGISTER_VPA call.
///
/// Values 0 and 4 are reserved by PAPR; hypervisors answer them with `H_PARAMETER`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum VpaSubfunction {
    /// Register the Virtual Processor Area (Linux `H_VPA_REG_VPA`).
    RegisterVpa = 1,
    /// Register the Dispatch Trace Log (`H_VPA_REG_DTL`).
    RegisterDtl = 2,
    /// Register the SLB shadow buffer (`H_VPA_REG_SLB`).
    RegisterSlb = 3,
    /// Deregister the VPA (`H_VPA_DEREG_VPA`).
    DeregisterVpa = 5,
    /// Deregister the DTL (`H_VPA_DEREG_DTL`).
    DeregisterDtl = 6,
    /// Deregister the SLB shadow (`H_VPA_DEREG_SLB`).
    DeregisterSlb = 7,
}

/// A flags word whose subfunction field holds a reserved value (0 or 4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReservedSubfunction(pub u8);

impl fmt::Display for ReservedSubfunction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "H_REGISTER_VPA subfunction {} is reserved", self.0)
    }
}

impl core::error::Error for ReservedSubfunction {}

impl VpaSubfunction {
    /// All six defined subfunctions, in numeric order.
    pub const ALL: [Self; 6] = [
        Self::RegisterVpa,
        Self::RegisterDtl,
        Self::RegisterSlb,
        Self::DeregisterVpa,
        Self::DeregisterDtl,
        Self::DeregisterSlb,
    ];

    /// The 3-bit subfunction code.
    pub const fn code(self) -> u8 {
        self as u8
    }

    /// The flags word (r4) that selects this subfunction: `code << 45`.
    pub const fn to_flags(self) -> u64 {
        (self as u64) << H_VPA_FUNC_SHIFT
    }

    /// Decodes the subfunction from a flags word as KVM does: only the 3-bit field is
    /// looked at and other bits are ignored. QEMU is stricter (it matches the whole
    /// word), see [`VpaSubfunction::from_flags_exact`].
    pub const fn from_flags(flags: u64) -> Result<Self, ReservedSubfunction> {
        let code = ((flags >> H_VPA_FUNC_SHIFT) & H_VPA_FUNC_MASK) as u8;
        match code {
            1 => Ok(Self::RegisterVpa),
            2 => Ok(Self::RegisterDtl),
            3 => Ok(Self::RegisterSlb),
            5 => Ok(Self::DeregisterVpa),
            6 => Ok(Self::DeregisterDtl),
            7 => Ok(Self::DeregisterSlb),
            other => Err(ReservedSubfunction(other)),
        }
    }

    /// Decodes a flags word as QEMU's `h_register_vpa` does: it compares the whole word
    /// with the six `code << 45` values, so any other set bit makes the call fail with
    /// `H_PARAMETER`. `None` for every word that is not exactly `sub.to_flags()`.
    pub const fn from_flags_exact(flags: u64) -> Option<Self> {
        match Self::from_flags(flags) {
            Ok(sub) if sub.to_flags() == flags => Some(sub),
            _ => None,
        }
    }

    /// Whether this subfunction registers (rather than deregisters) an area.
    pub const fn is_register(self) -> bool {
        (self as u8) < 4
    }

    /// Linux's name for the subfunction constant.
    pub const fn name(self) -> &'static str {
        match self {
            Self::RegisterVpa => "H_VPA_REG_VPA",
            Self::RegisterDtl => "H_VPA_REG_DTL",
            Self::RegisterSlb => "H_VPA_REG_SLB",
            Self::DeregisterVpa => "H_VPA_DEREG_VPA",
            Self::DeregisterDtl => "H_VPA_DEREG_DTL",
            Self::DeregisterSlb => "H_VPA_DEREG_SLB",
        }
    }
}

impl fmt::Display for VpaSubfunction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

macro_rules! return_codes {
    ($($(#[$doc:meta])* $name:ident = $value:expr,)*) => {
        /// A PAPR hcall return code (r3 on return), with Linux's `hvcall.h` names.
        ///
        /// Codes this enum does not name survive decoding as [`ReturnCode::Other`], so
        /// `ReturnCode::from_raw(x).raw() == x` for every `x`.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[allow(non_camel_case_types)]
        pub enum ReturnCode {
            $($(#[$doc])* $name,)*
            /// A code without a name here.
            Other(i64),
        }

        impl ReturnCode {
            /// Decodes r3.
            pub const fn from_raw(raw: i64) -> Self {
                match raw {
                    $($value => Self::$name,)*
                    other => Self::Other(other),
                }
            }

            /// The value placed in r3.
            pub const fn raw(self) -> i64 {
                match self {
                    $(Self::$name => $value,)*
                    Self::Other(v) => v,
                }
            }

            /// Linux's name (`H_PARAMETER`), or `None` for [`ReturnCode::Other`].
            pub const fn name(self) -> Option<&'static str> {
                match self {
                    $(Self::$name => Some(stringify!($name)),)*
                    Self::Other(_) => None,
                }
            }

            /// Parses Linux's name (`H_PARAMETER`) back into the code.
            pub fn from_name(name: &str) -> Option<Self> {
                match name {
                    $(stringify!($name) => Some(Self::$name),)*
                    _ => None,
                }
            }
        }
    };
}

return_codes! {
    /// 0: the call succeeded.
    H_SUCCESS = 0,
    /// 1: hardware busy, retry later.
    H_BUSY = 1,
    /// 2: resource closed.
    H_CLOSED = 2,
    /// 4: resource request constrained to the maximum allowed.
    H_CONSTRAINED = 4,
    /// 5: partial success.
    H_PARTIAL = 5,
    /// 14: in progress.
    H_IN_PROGRESS = 14,
    /// 9999: the hypervisor real-mode handler defers to virtual mode.
    H_TOO_HARD = 9999,
    /// -1: hardware error (QEMU answers this for a VPA at address 0).
    H_HARDWARE = -1,
    /// -2: function not supported.
    H_FUNCTION = -2,
    /// -3: caller not privileged.
    H_PRIVILEGE = -3,
    /// -4: parameter invalid, out of range or conflicting.
    H_PARAMETER = -4,
    /// -7: not found.
    H_NOT_FOUND = -7,
    /// -11: permission denied.
    H_PERMISSION = -11,
    /// -16: resource busy or in use (QEMU: VPA deregistration while a DTL/SLB is registered).
    H_RESOURCE = -16,
    /// -54: aborted.
    H_ABORTED = -54,
    /// -55: parameter 2 invalid.
    H_P2 = -55,
    /// -56: parameter 3 invalid.
    H_P3 = -56,
    /// -57: parameter 4 invalid.
    H_P4 = -57,
    /// -67: unsupported.
    H_UNSUPPORTED = -67,
    /// -75: wrong state.
    H_STATE = -75,
    /// -77: in use.
    H_IN_USE = -77,
}

impl ReturnCode {
    /// Whether this is `H_SUCCESS`.
    pub const fn is_success(self) -> bool {
        matches!(self, Self::H_SUCCESS)
    }
}

impl fmt::Display for ReturnCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "H_UNKNOWN({})", self.raw()),
        }
    }
}

/// What an hcall returns: the status in r3 and the output registers r4..r12.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HcallResult {
    /// r3.
    pub ret: ReturnCode,
    /// r4..r12 (Linux's `plpar_hcall9` return buffer); unused ones are zero.
    pub out: [u64; 9],
}

impl HcallResult {
    /// A result with only a status and no output values.
    pub const fn status(ret: ReturnCode) -> Self {
        Self { ret, out: [0; 9] }
    }
}

/// Something that executes hypervisor calls: real firmware through `sc 1`, or a model.
///
/// `args` are r4 onwards (at most nine are meaningful); an implementation treats missing
/// arguments as zero, as a real hypervisor sees whatever the registers held.
pub trait Hypervisor {
    /// Performs hcall `opcode` with `args` in r4.. and returns r3 and r4..r12.
    fn hcall(&mut self, opcode: Opcode, args: &[u64]) -> HcallResult;

    /// `H_REGISTER_VPA(flags = sub << 45, proc_no, addr)`, Linux's `vpa_call`.
    fn register_vpa(&mut self, sub: VpaSubfunction, proc_no: u64, addr: u64) -> ReturnCode {
        self.hcall(Opcode::H_REGISTER_VPA, &[sub.to_flags(), proc_no, addr])
            .ret
    }
}

impl<H: Hypervisor + ?Sized> Hypervisor for &mut H {
    fn hcall(&mut self, opcode: Opcode, args: &[u64]) -> HcallResult {
        (**self).hcall(opcode, args)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subfunction_encoding_matches_linux() {
        assert_eq!(VpaSubfunction::RegisterVpa.to_flags(), 1 << 45);
        assert_eq!(VpaSubfunction::RegisterDtl.to_flags(), 2 << 45);
        assert_eq!(VpaSubfunction::RegisterSlb.to_flags(), 3 << 45);
        assert_eq!(VpaSubfunction::DeregisterVpa.to_flags(), 5 << 45);
        assert_eq!(VpaSubfunction::DeregisterDtl.to_flags(), 6 << 45);
        assert_eq!(VpaSubfunction::DeregisterSlb.to_flags(), 7 << 45);
        for sub in VpaSubfunction::ALL {
            assert_eq!(VpaSubfunction::from_flags(sub.to_flags()), Ok(sub));
            // Bits outside the field do not change the decoding.
            assert_eq!(
                VpaSubfunction::from_flags(sub.to_flags() | 0xffff | (1 << 63)),
                Ok(sub)
            );
        }
        for sub in VpaSubfunction::ALL {
            assert_eq!(VpaSubfunction::from_flags_exact(sub.to_flags()), Some(sub));
            assert_eq!(VpaSubfunction::from_flags_exact(sub.to_flags() | 1), None);
        }
        // QEMU's FLAGS_REGISTER_VPA .. FLAGS_DEREGISTER_SLBSHADOW.
        assert_eq!(
            VpaSubfunction::RegisterVpa.to_flags(),
            0x0000_2000_0000_0000
        );
        assert_eq!(
            VpaSubfunction::DeregisterSlb.to_flags(),
            0x0000_e000_0000_0000
        );
        assert_eq!(VpaSubfunction::from_flags_exact(4 << 45), None);
        assert_eq!(VpaSubfunction::from_flags(0), Err(ReservedSubfunction(0)));
        assert_eq!(
            VpaSubfunction::from_flags(4 << 45),
            Err(ReservedSubfunction(4))
        );
    }

    #[test]
    fn return_codes_round_trip() {
        for raw in -600i64..10_100 {
            let rc = ReturnCode::from_raw(raw);
            assert_eq!(rc.raw(), raw);
            if let Some(name) = rc.name() {
                assert_eq!(ReturnCode::from_name(name), Some(rc));
            }
        }
        assert_eq!(ReturnCode::from_raw(-4), ReturnCode::H_PARAMETER);
        assert_eq!(ReturnCode::H_HARDWARE.raw(), -1);
        assert_eq!(ReturnCode::H_FUNCTION.raw(), -2);
        assert_eq!(ReturnCode::H_RESOURCE.raw(), -16);
    }

    proptest::proptest! {
        /// Every flags word decodes to the subfunction in bits 45..48 or to the reserved
        /// code found there, and a decoded subfunction encodes back to exactly that field.
        #[test]
        fn flags_decode_encode(flags: u64) {
            let field = (flags >> 45) & 7;
            match VpaSubfunction::from_flags(flags) {
                Ok(sub) => {
                    proptest::prop_assert_eq!(u64::from(sub.code()), field);
                    proptest::prop_assert_eq!(sub.to_flags(), field << 45);
                    proptest::prop_assert_eq!(sub.is_register(), field < 4);
                }
                Err(ReservedSubfunction(code)) => {
                    proptest::prop_assert!(code == 0 || code == 4);
                    proptest::prop_assert_eq!(u64::from(code), field);
                }
            }
            let exact = VpaSubfunction::from_flags_exact(flags);
            proptest::prop_assert_eq!(exact.is_some(), flags & !(7 << 45) == 0 && field != 0 && field != 4);
            if let Some(sub) = exact {
                proptest::prop_assert_eq!(sub.to_flags(), flags);
            }
        }
    }

    #[test]
    fn display() {
        extern crate std;
        use std::string::ToString;
        assert_eq!(ReturnCode::H_PARAMETER.to_string(), "H_PARAMETER");
        assert_eq!(ReturnCode::from_raw(-5).to_string(), "H_UNKNOWN(-5)");
        assert_eq!(Opcode::H_REGISTER_VPA.to_string(), "H_REGISTER_VPA");
    }
}
