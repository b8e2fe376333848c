//! Which hypervisor's rules the handler follows, and the rules themselves.

use core::fmt;
use core::str::FromStr;

/// A hypervisor whose H_REGISTER_VPA behaviour the model reproduces.
///
/// The rules of each profile are listed on [`Rule`]; the crate documentation has the
/// table of every difference. Each profile belongs to a [`Family`], which decides
/// which rule file (`partition/kvm.rs`, `partition/qemu.rs`) handles it.
///
/// New hypervisor versions are expected, so the enum is `#[non_exhaustive]`; a command
/// line parses it by name ([`FromStr`], or `clap::ValueEnum` with the `clap` feature)
/// instead of re-declaring the list.
///
/// ```
/// use vpa_hv::{Family, Profile};
///
/// let p: Profile = "kvm-pre-4.14".parse().unwrap();
/// assert_eq!(p, Profile::KvmPre414);
/// assert_eq!(p.family(), Family::Kvm);
/// assert_eq!(p.vpa_min_size(), 1024);
/// assert!("xen".parse::<Profile>().is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Profile {
    /// KVM HV as in Linux 6.1, `arch/powerpc/kvm/book3s_hv.c`: `do_h_register_vpa`
    /// for the hcall, `kvmppc_update_vpas`/`init_vpa` for the deferred registration,
    /// `vcpu_vpa_increment_dispatch` and `__kvmppc_create_dtl_entry` for dispatch
    /// accounting.
    Kvm,
    /// KVM HV before Linux 4.14: as [`Profile::Kvm`], except that a VPA whose size
    /// field is below 1024 is refused, because the check was
    /// `len < sizeof(struct lppaca)` while `struct lppaca` was `__aligned(0x400)`.
    KvmPre414,
    /// QEMU 7.2 `pseries` (TCG), `hw/ppc/spapr_hcall.c`: `h_register_vpa`,
    /// `register_vpa`, `deregister_vpa`, `register_slb_shadow`, `register_dtl`; and
    /// `hw/ppc/spapr.c` `spapr_cpu_exec_enter`/`spapr_cpu_exec_exit` for the dispatch
    /// counter.
    Qemu,
}

impl Profile {
    /// All profiles.
    pub const ALL: [Self; 3] = [Self::Kvm, Self::KvmPre414, Self::Qemu];

    /// The name used on the command line: `kvm`, `kvm-pre-4.14`, `qemu`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Kvm => "kvm",
            Self::KvmPre414 => "kvm-pre-4.14",
            Self::Qemu => "qemu",
        }
    }

    /// Whose implementation the profile models, which decides every behaviour fork of
    /// the handler.
    pub const fn family(self) -> Family {
        match self {
            Self::Kvm | Self::KvmPre414 => Family::Kvm,
            Self::Qemu => Family::Qemu,
        }
    }

    /// Whether this is one of the KVM profiles (`self.family() == Family::Kvm`).
    pub const fn is_kvm(self) -> bool {
        matches!(self.family(), Family::Kvm)
    }

    /// One line on what the profile models, as a command line's help shows it.
    pub const fn summary(self) -> &'static str {
        match self {
            Self::Kvm => "KVM HV, Linux 6.1 `book3s_hv.c`",
            Self::KvmPre414 => "KVM HV before Linux 4.14 (VPA size at least 1024)",
            Self::Qemu => "QEMU 7.2 `pseries` (TCG), `hw/ppc/spapr_hcall.c`",
        }
    }

    /// The smallest VPA size field the profile accepts.
    pub const fn vpa_min_size(self) -> u64 {
        match self {
            Self::KvmPre414 => crate::layout::LPPACA_SIZE_PRE_414,
            Self::Kvm | Self::Qemu => crate::layout::LPPACA_SIZE,
        }
    }
}

/// The hypervisor implementation a [`Profile`] follows. Profiles of one family share
/// their rule file and differ only in parameters (such as
/// [`Profile::vpa_min_size`]); a new family is a new rule file and a new arm at each
/// `match` on this enum in `partition.rs`, which the compiler lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Family {
    /// KVM HV (`arch/powerpc/kvm/book3s_hv.c`): registrations take effect at the next
    /// dispatch, every hcall is a guest exit, DTL entries are written.
    Kvm,
    /// QEMU `pseries` under TCG (`hw/ppc/spapr_hcall.c`): registrations take effect at
    /// once, no exit, no DTL entries.
    Qemu,
}

impl fmt::Display for Profile {
    /// The command-line name; honours width and alignment (`{:>12}`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

/// A profile name that is not `kvm`, `kvm-pre-4.14` or `qemu`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownProfile;

impl fmt::Display for UnknownProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("unknown profile (expected kvm, kvm-pre-4.14 or qemu)")
    }
}

impl core::error::Error for UnknownProfile {}

impl FromStr for Profile {
    type Err = UnknownProfile;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or(UnknownProfile)
    }
}

#[cfg(feature = "clap")]
impl clap::ValueEnum for Profile {
    fn value_variants<'a>() -> &'a [Self] {
        &Self::ALL
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(self.name()).help(self.summary()))
    }
}

/// The host kernel's page size, which bounds a KVM registration.
///
/// KVM pins the host page holding the area's first byte (`kvmppc_pin_guest_page` in
/// `book3s_64_mmu_hv.c` returns `nb = PAGE_SIZE - offset`) and refuses `len > nb`: the
/// "no crossing" rule is about the *host* page, 64 KiB on the usual ppc64le
/// distribution kernels (`CONFIG_PPC_64K_PAGES`), 4 KiB otherwise. QEMU always uses
/// 4096, whatever this setting.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum HostPageSize {
    /// 4 KiB host pages.
    Size4K,
    /// 64 KiB host pages (the default, as on Debian/Ubuntu/RHEL ppc64le hosts).
    #[default]
    Size64K,
}

impl HostPageSize {
    /// Both sizes.
    pub const ALL: [Self; 2] = [Self::Size4K, Self::Size64K];

    /// The page size in bytes.
    pub const fn bytes(self) -> u64 {
        match self {
            Self::Size4K => 4096,
            Self::Size64K => 65536,
        }
    }

    /// The name used on the command line: `4k`, `64k`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Size4K => "4k",
            Self::Size64K => "64k",
        }
    }
}

#[cfg(feature = "clap")]
impl clap::ValueEnum for HostPageSize {
    fn value_variants<'a>() -> &'a [Self] {
        &Self::ALL
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        let help = match self {
            Self::Size4K => "4 KiB host pages",
            Self::Size64K => "64 KiB host pages (ppc64le distribution kernels)",
        };
        Some(clap::builder::PossibleValue::new(self.name()).help(help))
    }
}

/// The host CPU generation, which decides the guest-entry path of a KVM profile and so
/// how the VPA's `enqueue_dispatch_tb` is kept.
///
/// Linux 6.1 `kvmppc_vcpu_run_hv` runs a vCPU through `kvmhv_run_single_vcpu` when the
/// host has `CPU_FTR_ARCH_300` (POWER9 and later) and through `kvmppc_run_vcpu` /
/// `kvmppc_run_core` otherwise. Both write one DTL entry per dispatch and keep
/// `yield_count` alike; they differ in the stolen-time fields (see
/// [`DispatchInfo::stolen`](crate::DispatchInfo::stolen)). No effect on
/// [`Profile::Qemu`], which writes neither field.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum KvmHostCpu {
    /// POWER8 (`kvmppc_update_vpa_dispatch`): a read-modify-write of the guest's
    /// field, `enqueue_dispatch_tb += stolen`, so whatever the guest left there is kept;
    /// the DTL entry records the same `stolen`.
    Power8,
    /// POWER9 and later (`kvmppc_update_vpa_dispatch_p9`, the default): an
    /// assignment, `enqueue_dispatch_tb = vc->stolen_tb`, the vCPU's stolen time since
    /// it was created, whatever the guest wrote and whether or not a VPA was registered
    /// meanwhile; the DTL entry records the part not logged by an earlier entry
    /// (`stolen_tb - stolen_logged`).
    #[default]
    Power9,
}

/// The rule that decided an hcall's return code, for explanations and tests.
///
/// Each variant says which source line it models in each profile. Checks run in the
/// order each hypervisor runs them, which is not the same order (see the crate docs).
/// A new profile may bring a new rule, hence `#[non_exhaustive]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Rule {
    /// `proc_no` names no vCPU: `H_PARAMETER`, checked first by both. KVM:
    /// `kvmppc_find_vcpu` in `do_h_register_vpa`; QEMU: `spapr_find_cpu` in
    /// `h_register_vpa`. Both take an `int`, so only the low 32 bits count and a
    /// negative id matches nothing.
    UnknownProc,
    /// The subfunction is reserved (0 or 4): `H_PARAMETER`. KVM looks only at bits
    /// 16..18 (`(flags >> H_VPA_FUNC_SHIFT) & H_VPA_FUNC_MASK`, the `switch` has no
    /// case for it); QEMU `switch (flags)` compares the whole word with the six
    /// `FLAGS_*` values, so any other set bit also lands here.
    ReservedSubfunction,
    /// Registering at guest address 0. KVM: `!vpa` gives `H_PARAMETER`; QEMU:
    /// `register_vpa`/`register_slb_shadow`/`register_dtl` answer `H_HARDWARE`
    /// ("Can't cope with registering a VPA at logical 0").
    AddressZero,
    /// The address is not a multiple of the 128-byte cache line: `H_PARAMETER`. KVM
    /// checks every area (`vpa & (L1_CACHE_BYTES - 1)`); QEMU only the VPA
    /// (`vpa % env->dcache_line_size`).
    Misaligned,
    /// KVM: the area is not in guest memory (`kvmppc_pin_guest_page` returns NULL):
    /// `H_PARAMETER`. The model asks for the 8-byte header and then the whole area to
    /// be guest memory; KVM memslots are page-granular, so for page-multiple memory
    /// this is what the host-page check already implies. QEMU has no such check (its
    /// source says "FIXME: bounds check the address"): a size read from outside RAM is
    /// 0 and fails [`Rule::SizeTooSmall`] instead.
    OutsideMemory,
    /// The size field is below the minimum: `H_PARAMETER`. VPA: 640 (`Kvm`, `Qemu`
    /// `VPA_MIN_SIZE`) or 1024 (`KvmPre414`). DTL: 48, one `struct dtl_entry` (both).
    /// SLB shadow: 8 (KVM `sizeof(struct reg_vpa)`, QEMU `size < 0x8`). KVM also
    /// applies the 8-byte floor to every area before the per-area check.
    SizeTooSmall,
    /// The area crosses a page: `H_PARAMETER`. KVM: `len > nb`, the rest of the
    /// *host* page (see [`HostPageSize`]), for every area; QEMU: a 4096-byte page, for
    /// the VPA and the SLB shadow but not the DTL.
    CrossesPage,
    /// A DTL or SLB shadow is registered for a vCPU without a VPA: `H_RESOURCE`
    /// (KVM `vpa_is_registered(&tvcpu->arch.vpa)`, QEMU `!spapr_cpu->vpa_addr`).
    NeedsVpa,
    /// The VPA is deregistered while a DTL or SLB shadow is still registered:
    /// `H_RESOURCE` (both).
    VpaInUse,
    /// Deregistering something that is not registered succeeds (both; PAPR: "no check
    /// is made that a valid VPA registration exists").
    DeregisterNothing,
    /// The call was accepted.
    Accepted,
}

impl Rule {
    /// A short description, as the CLI prints it.
    pub const fn describe(self) -> &'static str {
        match self {
            Self::UnknownProc => "no vCPU has this proc-no",
            Self::ReservedSubfunction => "reserved subfunction",
            Self::AddressZero => "address 0",
            Self::Misaligned => "not cache-line (128-byte) aligned",
            Self::OutsideMemory => "area outside guest memory",
            Self::SizeTooSmall => "size field below the minimum",
            Self::CrossesPage => "area crosses a page boundary",
            Self::NeedsVpa => "no VPA registered",
            Self::VpaInUse => "DTL or SLB shadow still registered",
            Self::DeregisterNothing => "nothing was registered",
            Self::Accepted => "accepted",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}
