//! The hypervisor side of H_REGISTER_VPA, with KVM and QEMU rule profiles.
//!
//! A pSeries guest tells its hypervisor, per virtual processor, where three areas
//! live: the Virtual Processor Area (VPA, Linux's `struct lppaca`), the Dispatch
//! Trace Log (DTL) and the SLB shadow buffer. A [`Partition`] models the hypervisor
//! end: it owns guest memory (anything implementing [`GuestRam`]), a list of vCPUs
//! named by their hardware id (the `proc_no` argument) and a [`Profile`] saying whose
//! rules to follow. [`Partition::h_register_vpa`] handles the hcall for all six
//! subfunctions and the reserved ones, reading the size field from guest memory as the
//! chosen hypervisor does; [`Partition::dispatch`] and [`Partition::preempt`] are the
//! hooks a VMM calls when a vCPU enters and leaves the guest, and keep the VPA's
//! `yield_count` even while the vCPU runs and odd while it does not. Under KVM a
//! registered DTL ring also gets one entry per dispatch, the first dispatch after the
//! registration included, as `__kvmppc_create_dtl_entry` is called on every guest
//! entry with a VPA; the entry carries the stolen time KVM accounted up to that entry,
//! and the VPA's `enqueue_dispatch_tb` is kept as the host CPU's entry path keeps it
//! ([`KvmHostCpu`]). Any `u64` arguments are accepted without panicking, and a call to
//! [`Partition::h_register_vpa`] that does not succeed changes neither the
//! registrations nor memory (through the [`papr::hcall::Hypervisor`] impl, the guest
//! exit and re-entry around a KVM hcall still count, as in KVM).
//! [`Partition`] also implements [`papr::hcall::Hypervisor`], so guest-side code can be
//! tested against it.
//!
//! ```
//! use papr::hcall::{ReturnCode, VpaSubfunction};
//! use phys::PhysAddr;
//! use vpa_hv::{GuestRam, Partition, Profile, VecRam};
//!
//! let mut hv = Partition::new(Profile::Qemu, VecRam::new(1 << 20), &[0, 1]).unwrap();
//! let vpa = 0x1_0000;
//! // The guest advertises the VPA size (be16 at offset 4) before registering it.
//! hv.memory_mut().write(PhysAddr::new(vpa + 4), &640u16.to_be_bytes()).unwrap();
//! let reg = VpaSubfunction::RegisterVpa.to_flags();
//! assert_eq!(hv.h_register_vpa(reg, 1, vpa), ReturnCode::H_SUCCESS);
//! assert_eq!(hv.h_register_vpa(reg, 1, vpa + 8), ReturnCode::H_PARAMETER); // misaligned
//! assert_eq!(hv.h_register_vpa(reg, 99, vpa), ReturnCode::H_PARAMETER); // no such vCPU
//! assert_eq!(hv.h_register_vpa(reg, 1, 0), ReturnCode::H_HARDWARE); // QEMU's address-0 rule
//!
//! // QEMU marks the partition as shared-processor in the VPA...
//! let mut status = [0u8];
//! hv.memory().read(PhysAddr::new(vpa + 9), &mut status).unwrap();
//! assert_eq!(status[0] & 0x2, 0x2);
//! // ...and keeps the dispatch counter even while the vCPU runs.
//! hv.dispatch(1).unwrap();
//! assert_eq!(hv.yield_count(1).map(|c| c % 2), Some(0));
//! hv.preempt(1).unwrap();
//! assert_eq!(hv.yield_count(1).map(|c| c % 2), Some(1));
//! ```
//!
//! # Guest memory: a local trait
//!
//! The crate is `#![no_std]` + `alloc` so that it can sit in a small VMM or firmware,
//! but rust-vmm's `vm-memory` needs `std`. The handler is therefore generic over
//! [`GuestRam`], three methods (bounds check, read, write) of this crate's own. With the
//! `vm-memory` feature every `vm_memory::GuestMemory` of the current rust-vmm release
//! (0.18: `GuestMemoryMmap`, any `GuestMemoryBackend`, an `IommuMemory`) implements
//! it, so a rust-vmm VMM passes its memory object as is; the `vm-memory-0-16` feature
//! adds `VmMemory016`, a wrapper for the previous release (0.16). Neither feature picks a
//! vm-memory backend: the VMM enables the one it uses (`backend-mmap` for
//! `GuestMemoryMmap`). [`VecRam`] is a plain vector for `no_std` users, tests and
//! fuzzing. [`Partition::new`] says who owns the memory.
//!
//! # Features
//!
//! | feature | what it adds |
//! |---|---|
//! | `vm-memory` | [`GuestRam`] for every `vm_memory` 0.18 `GuestMemory` (std) |
//! | `vm-memory-0-16` | `VmMemory016`, [`GuestRam`] over a `vm_memory` 0.16 `GuestMemory` (std) |
//! | `clap` | `clap::ValueEnum` for [`Profile`] and [`HostPageSize`] (std) |
//!
//! # Registering: typed or raw
//!
//! [`Partition::register`] takes a [`papr::hcall::VpaSubfunction`], a `u32` hardware
//! id and a [`phys::PhysAddr`], as a VMM that decoded the call (or a test) has them;
//! [`Partition::h_register_vpa`] takes the three raw registers, stray flag bits and
//! 64-bit proc-nos included, because that is what the profiles differ on.
//!
//! # Rules and where they come from
//!
//! The checks are listed on [`Rule`], with the source they model. The sources are
//! Linux 6.1 `arch/powerpc/kvm/book3s_hv.c` (`do_h_register_vpa`, `kvmppc_update_vpas`,
//! `init_vpa`, `__kvmppc_create_dtl_entry`, `vcpu_vpa_increment_dispatch`) for
//! [`Profile::Kvm`]; the same with the pre-4.14 VPA minimum of 1024 for
//! [`Profile::KvmPre414`]; and QEMU 7.2 `hw/ppc/spapr_hcall.c` (`h_register_vpa`,
//! `register_vpa`, `deregister_vpa`, `register_slb_shadow`, `register_dtl`) with
//! `hw/ppc/spapr.c` (`spapr_cpu_exec_enter`/`_exit`) for [`Profile::Qemu`]. Both look
//! the vCPU up first and answer an unknown one with `H_PARAMETER`; both refuse a
//! reserved subfunction with `H_PARAMETER`, a DTL or SLB shadow without a VPA with
//! `H_RESOURCE`, and deregistering a VPA while a DTL or SLB shadow is registered with
//! `H_RESOURCE`; both accept deregistering what is not registered.
//!
//! # Where the profiles differ
//!
//! | Situation | `Kvm` | `KvmPre414` | `Qemu` |
//! |---|---|---|---|
//! | Flags word with bits set outside the subfunction field | only bits 16..18 are decoded | as `Kvm` | `H_PARAMETER` (whole word compared) |
//! | Registering at address 0 | `H_PARAMETER` | as `Kvm` | `H_HARDWARE` |
//! | DTL or SLB shadow not 128-byte aligned | `H_PARAMETER` | as `Kvm` | accepted (only the VPA is checked) |
//! | VPA size field 640..=1023 | accepted | `H_PARAMETER` | accepted |
//! | Page the area must not cross | the host page holding its first byte, 64 KiB by default ([`HostPageSize`]), every area | as `Kvm` | 4 KiB, VPA and SLB shadow only; a DTL may cross |
//! | Area not in guest memory | `H_PARAMETER` (page not pinned) | as `Kvm` | no check: a size field outside RAM reads 0 and fails the minimum; an area starting in RAM is accepted |
//! | Recorded DTL length | rounded down to whole 48-byte entries | as `Kvm` | as given |
//! | When a (de)registration takes effect | at the target vCPU's next dispatch (`kvmppc_update_vpas`) | as `Kvm` | at once |
//! | VPA byte 9 (`__old_status`) `\|= 0x2` | at that dispatch (`init_vpa`) | as `Kvm` | during the hcall |
//! | `yield_count` when a VPA is registered | set to 1 at that dispatch, then incremented on entry | as `Kvm` | left as the guest wrote it |
//! | `yield_count` on dispatch / preempt | +1 each | as `Kvm` | +1, and +1 more if the parity is wrong (enter: even, exit: odd) |
//! | The hcall itself | a guest exit and re-entry of the caller (+2, pending work applied) | as `Kvm` | no exit (TCG handles it in the vCPU loop) |
//! | `yield_count` after a vCPU deregisters its own VPA | odd (the exit incremented it, the entry no longer does) | as `Kvm` | unchanged, even (kvm-unit-tests marks this a known TCG failure) |
//! | DTL entries | one per dispatch with a VPA (the first after registering included), `dtl_idx` incremented | as `Kvm` | none (QEMU 7.2 writes no DTL) |
//! | `enqueue_dispatch_tb` on dispatch | POWER9 hosts: set to the vCPU's total stolen time; POWER8: stolen time added to the guest's value ([`KvmHostCpu`]) | as `Kvm` | not written |
//!
//! The `Partition::hcall` entry point (the [`papr::hcall::Hypervisor`] impl) applies the
//! "hcall is an exit" row for the vCPU named by [`Partition::set_caller`];
//! [`Partition::h_register_vpa`] is the bare handler, between whatever
//! [`Partition::preempt`]/[`Partition::dispatch`] calls the embedder makes.
//!
//! Against the public kvm-unit-tests `powerpc/spapr_vpa.c` scenarios, the KVM profiles
//! with 64 KiB host pages register the "VPA spanning 4096 bytes" case (it stays within
//! one host page); with [`HostPageSize::Size4K`] they refuse it as the test expects.
//! `KvmPre414` also refuses the test's 640-byte VPA, which is why Linux kept
//! advertising 1 KiB. QEMU fails the test's "dispatch count is odd after deregister",
//! as the test itself records.
//!
//! # Checked live against QEMU 7.2
//!
//! [`script`] is the `numaboot hv replay` language, shared by the CLI and by the live
//! runner: `cargo xtask hv-diff` runs scripts inside a pseries guest against real QEMU
//! 7.2 (TCG) and on [`Profile::Qemu`] and reports the first differing output line.
//! The scripts in `tests/scripts/` and 100,000 generated ones (`--random 100000 --seed
//! 100`: 928,976 H_REGISTER_VPA calls and 1,576,462 output lines in 50 boots, 409 s on
//! a loaded 2-core host; stray flag bits, every subfunction, size minimums, 4 KiB
//! crossings, the last page of RAM and beyond, proc-nos whose low 32 bits name a vCPU,
//! secondaries started and stopped around registrations) found no difference;
//! `tests/live_scripts.rs` keeps QEMU's recorded answers to the fixed scripts. One
//! QEMU behaviour the model does not need but a live run must respect: RTAS
//! start-cpu enters the woken vCPU once or three times (enter, exit, enter) depending
//! on host thread timing, so a live run refuses to start a vCPU that has a VPA.
//!
//! # Adding a hypervisor profile
//!
//! A new version of a modelled hypervisor that changes a parameter is a new [`Profile`]
//! variant: the compiler then stops at [`Profile::name`], [`Profile::family`],
//! [`Profile::summary`] and [`Profile::vpa_min_size`] (exhaustive `match`es in
//! `profile.rs`); add it to [`Profile::ALL`], which the tests, `FromStr`, the `clap`
//! values and `numaboot hv replay --profile` all iterate. A new hypervisor is a new
//! [`Family`] variant and a rule file beside `partition/kvm.rs` and
//! `partition/qemu.rs`; the compiler lists each fork in `partition.rs` (registration,
//! dispatch, preempt parity, whether an hcall is an exit) that needs its arm.
//!
//! # Fuzzing
//!
//! `fuzz/` holds one `cargo fuzz` target per profile (`hcalls_kvm`,
//! `hcalls_kvm_pre414`, `hcalls_qemu`) feeding arbitrary hcall, dispatch and
//! guest-write sequences; see `fuzz/README.md`.
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod layout;
mod memory;
mod partition;
mod profile;
pub mod script;

#[cfg(feature = "vm-memory-0-16")]
pub use memory::VmMemory016;
pub use memory::{GuestRam, OutOfGuestMemory, VecRam};
pub use partition::{
    Area, AreaKind, AreaState, DispatchError, DispatchInfo, Partition, PartitionError, Vcpu,
    Verdict, VPHN_MAX_DOMAINS,
};
pub use profile::{Family, HostPageSize, KvmHostCpu, Profile, Rule, UnknownProfile};
