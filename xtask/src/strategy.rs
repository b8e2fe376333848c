//! The strategies the e2e guest can plan with, and what each makes the guest write:
//! shared by the report check (`check`), the host's memory check (`e2e::host`) and the
//! command line.

use clap::ValueEnum;

/// The strategies the e2e guest can plan with (`rma-split` is not one: it puts lppacas
/// above the RMA, which a real-mode guest cannot write).
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum GuestStrategy {
    /// Linux 6.1: 1 KiB lppacas, each structure allocated on its own.
    #[value(name = "linux", alias = "linux-6.1")]
    Linux,
    /// 640-byte lppacas, six to a node-local 4 KiB page.
    #[value(name = "packed-vpa")]
    PackedVpa,
    /// One node-local block per CPU: lppaca, paca, SLB shadow.
    #[value(name = "per-cpu-block")]
    PerCpuBlock,
    /// One block per node holding its CPUs' paca data.
    #[value(name = "per-node-block")]
    PerNodeBlock,
}

impl GuestStrategy {
    /// The name the guest and `percpu` use (`numaboot.strategy=` and its `plan` line).
    pub fn name(self) -> &'static str {
        match self {
            Self::Linux => "linux-6.1",
            Self::PackedVpa => "packed-vpa",
            Self::PerCpuBlock => "per-cpu-block",
            Self::PerNodeBlock => "per-node-block",
        }
    }

    /// The lppaca size field the strategy must advertise: Linux's 1 KiB (`LPPACA_SIZE`,
    /// kept for pre-4.14 KVM), else the 640 bytes PAPR defines.
    pub fn lppaca_size_field(self) -> u64 {
        match self {
            Self::Linux => papr::LPPACA_ALLOC_SIZE,
            _ => papr::VPA_MIN_SIZE,
        }
    }

    /// The alignment the strategy gives an lppaca: Linux's 1 KiB, else the cache line.
    pub fn lppaca_align(self) -> u64 {
        match self {
            Self::Linux => papr::LPPACA_ALLOC_ALIGN,
            _ => papr::L1_CACHE_BYTES,
        }
    }
}
