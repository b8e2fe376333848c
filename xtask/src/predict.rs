//! What the `vpa-hv` models say QEMU (and another hypervisor) should have answered.
//!
//! The guest's hcalls are replayed, in order, against a [`vpa_hv::Partition`] with the
//! `Qemu` profile (or, for a prediction, another one: `kvm-pre-4.14` refuses the
//! 640-byte VPAs of the strategies beyond Linux), the same memory size and the same
//! vCPUs. Before each call the length
//! word the guest had at `addr + 4` (the be16 VPA size or the be32 DTL/SLB-shadow length)
//! is written into the model's memory: that word is all of guest memory QEMU's checks
//! read. A mismatch means either numaboot's model of QEMU or the guest's use of the ABI
//! is wrong; both are failures.

use anyhow::{Context, Result};
use papr::hcall::ReturnCode;
use phys::PhysAddr;
use vpa_hv::{GuestRam, Partition, Profile, VecRam, Verdict};

use crate::report::Line;

/// One disagreement between QEMU and the model.
pub struct Mismatch {
    /// The guest's line number.
    pub lineno: usize,
    /// The case name the guest printed.
    pub name: String,
    /// What QEMU returned.
    pub actual: ReturnCode,
    /// The model's code.
    pub predicted: ReturnCode,
    /// The model's reason.
    pub rule: String,
}

/// Replays the `hcall` lines on `profile`'s model and returns its verdict on each, in
/// order.
pub fn replay(
    profile: Profile,
    mem_bytes: u64,
    hw_ids: &[u32],
    hcalls: &[&Line],
) -> Result<Vec<Verdict>> {
    let size = usize::try_from(mem_bytes).context("guest memory size")?;
    let mut hv = Partition::new(profile, VecRam::new(size), hw_ids)
        .map_err(|e| anyhow::anyhow!("building the {profile} model: {e}"))?;
    let mut out = Vec::new();
    for h in hcalls {
        let addr = h.u64("addr")?;
        let len = u32::try_from(h.u64("len")?).context("len word")?;
        if addr != 0 {
            if let Some(at) = addr.checked_add(4) {
                // Outside the model's memory the write fails, as QEMU's read does.
                let _ = hv.memory_mut().write(PhysAddr::new(at), &len.to_be_bytes());
            }
        }
        out.push(hv.h_register_vpa_explained(h.u64("flags")?, h.u64("proc")?, addr));
    }
    Ok(out)
}

/// Replays the `hcall` lines and returns every call QEMU and the model disagree on.
pub fn compare(mem_bytes: u64, hw_ids: &[u32], hcalls: &[&Line]) -> Result<Vec<Mismatch>> {
    let verdicts = replay(Profile::Qemu, mem_bytes, hw_ids, hcalls)?;
    let mut out = Vec::new();
    for (h, verdict) in hcalls.iter().zip(verdicts) {
        let actual = ReturnCode::from_raw(i64::try_from(h.num("rc")?).context("rc")?);
        if verdict.code != actual {
            out.push(Mismatch {
                lineno: h.lineno,
                name: h.get("name")?.to_string(),
                actual,
                predicted: verdict.code,
                rule: verdict.rule.to_string(),
            });
        }
    }
    Ok(out)
}
