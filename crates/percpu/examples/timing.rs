//! Times the phases of a large Linux 6.1 plan and prints memblock's region counts, to
//! see where planning time goes.

use std::time::Instant;

use memblock::Memblock;
use percpu::{init_memblock, plan, PlanConfig, Strategy};
use topology::{synthetic, SyntheticSpec};

fn main() {
    let cpus: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(8192);
    let topo = synthetic(&SyntheticSpec {
        nodes: (cpus / 32).clamp(1, 256),
        cpus,
        threads_per_core: 8,
        seed: 1,
        ..Default::default()
    })
    .expect("synthetic machine");
    for strategy in Strategy::ALL {
        // NR_CPUS large enough for every CPU (the default of 2048 would cap the plan).
        let mut cfg = PlanConfig::for_topology(&topo, strategy);
        cfg.nr_cpu_ids = cfg.nr_cpu_ids.max(topo.cpus.len() as u32);
        let mut mb = Memblock::new();
        init_memblock(&mut mb, &topo, &cfg).expect("init");
        let t = Instant::now();
        let p = plan(&mut mb, &topo, &cfg).expect("plan");
        println!(
            "{strategy}: {cpus} CPUs in {:?}; {} memblock calls; {} reserved regions at the end",
            t.elapsed(),
            p.ops.len(),
            mb.reserved().len()
        );
    }
}
