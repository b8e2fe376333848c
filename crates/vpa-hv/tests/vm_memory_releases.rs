//! The same hcall scripts on the three guest memories the crate supports must print the
//! same thing under every profile: a plain vector, rust-vmm's current `GuestMemoryMmap`
//! (vm-memory 0.18, blanket impl) and the previous one (0.16, `VmMemory016`). The
//! scripts are the recorded ones of `tests/scripts/`, which touch the last page of RAM
//! and beyond, where the adaptors' bounds checks decide.

use std::path::Path;

use vpa_hv::{GuestRam, HostPageSize, Partition, Profile, VecRam, VmMemory016};

const MEM: usize = 256 << 20;

fn run<M: GuestRam>(profile: Profile, page: HostPageSize, memory: M, text: &str) -> String {
    let mut hv = Partition::new(profile, memory, &[0, 1, 2, 3]).unwrap();
    hv.set_host_page_size(page);
    hv.dispatch(0).unwrap();
    let mut out = String::new();
    if let Err(e) = vpa_hv::script::run(&mut hv, text, &mut out, true) {
        out.push_str(&format!("error: {e}\n"));
    }
    out
}

#[test]
fn every_release_answers_alike() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scripts");
    let mut scripts: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "hvs"))
        .collect();
    scripts.sort();
    assert!(scripts.len() >= 5, "only {} scripts", scripts.len());
    for script in &scripts {
        let text = std::fs::read_to_string(script).unwrap();
        for profile in Profile::ALL {
            for page in HostPageSize::ALL {
                let want = run(profile, page, VecRam::new(MEM), &text);
                let current = vm_memory::GuestMemoryMmap::<()>::from_ranges(&[(
                    vm_memory::GuestAddress(0),
                    MEM,
                )])
                .unwrap();
                let previous = vm_memory_0_16::GuestMemoryMmap::<()>::from_ranges(&[(
                    vm_memory_0_16::GuestAddress(0),
                    MEM,
                )])
                .unwrap();
                let what = format!("{} {profile} {}", script.display(), page.name());
                assert_eq!(run(profile, page, current, &text), want, "0.18, {what}");
                assert_eq!(
                    run(profile, page, VmMemory016(previous), &text),
                    want,
                    "0.16, {what}"
                );
            }
        }
    }
}
