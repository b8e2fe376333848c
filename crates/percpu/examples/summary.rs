//! Prints the placement summary of both strategies on a two-node hash guest.

use memblock::Memblock;
use percpu::{boot, PlanConfig, Strategy};
use topology::{synthetic, SyntheticSpec};

fn main() {
    let topo = synthetic(&SyntheticSpec {
        nodes: 4,
        cpus: 64,
        threads_per_core: 8,
        memoryless_nodes: 1,
        ..Default::default()
    })
    .expect("synthetic machine");
    for strategy in Strategy::ALL {
        let cfg = PlanConfig::for_topology(&topo, strategy);
        match boot(&mut Memblock::new(), &topo, &cfg) {
            Ok(p) => println!("{p}"),
            Err(e) => println!("{strategy}: {e}"),
        }
    }
}
