//! What the `vpa-hv` model says QEMU should have answered.
//!
//! The guest's hcalls are replayed, in order, against a [`vpa_hv::Partition`] with the
//! `Qemu` profile, the same memory size and the same vCPUs. Before each call the size
//! field the guest had written at `addr + 4` is written into the model's memory, which is
//! all of guest memory QEMU's checks read. A mismatch means either numaboot's model of
//! QEMU or the guest's use of the ABI is wrong; both are failures.

use anyhow::{Context, Result};
use papr::hcall::ReturnCode;
use phys::PhysAddr;
use vpa_hv::{GuestRam, Partition, Profile, VecRam};

use crate::report::HcallLine;

/// One disagreement between QEMU and the model.
pub struct Mismatch {
    /// The guest's line.
    pub line: HcallLine,
    /// The model's code.
    pub predicted: ReturnCode,
    /// The model's reason.
    pub rule: String,
}

/// Replays `hcalls` and returns every call whose return code QEMU and the model disagree on.
pub fn compare(mem_bytes: u64, cpus: u32, hcalls: &[HcallLine]) -> Result<Vec<Mismatch>> {
    let size = usize::try_from(mem_bytes).context("guest memory size")?;
    let proc_nos: Vec<u32> = (0..cpus).collect();
    let mut hv = Partition::new(Profile::Qemu, VecRam::new(size), &proc_nos)
        .map_err(|e| anyhow::anyhow!("building the QEMU model: {e}"))?;
    let mut out = Vec::new();
    for h in hcalls {
        if h.addr != 0 {
            if let Some(at) = h.addr.checked_add(4) {
                // Outside the model's memory the write fails, as the read fails in QEMU.
                let _ = hv
                    .memory_mut()
                    .write(PhysAddr::new(at), &(h.size as u16).to_be_bytes());
            }
        }
        let flags = h.sub << papr::hcall::H_VPA_FUNC_SHIFT;
        let verdict = hv.h_register_vpa_explained(flags, h.proc_no, h.addr);
        if verdict.code.raw() != h.rc {
            out.push(Mismatch {
                line: h.clone(),
                predicted: verdict.code,
                rule: verdict.rule.to_string(),
            });
        }
    }
    Ok(out)
}
