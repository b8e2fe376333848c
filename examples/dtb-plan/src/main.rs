//! `dtb-plan FILE.dtb [STRATEGY]`: reads a flattened device tree, plans where Linux puts
//! every CPU's paca, lppaca, SLB shadow and stacks, and prints the placement report and
//! how many structures of each kind are node-local.

use std::process::ExitCode;

use memblock::Memblock;
use percpu::{boot, PlanConfig, Strategy};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dtb-plan: {e}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: dtb-plan FILE.dtb [STRATEGY]")?;
    let strategy = match args.next() {
        Some(name) => Strategy::from_name(&name).ok_or(format!("unknown strategy `{name}`"))?,
        None => Strategy::Linux61,
    };
    let blob = std::fs::read(&path).map_err(|e| format!("{path}: {e}"))?;
    let topo = topology::topology_from_dtb(&blob).map_err(|e| format!("{path}: {e}"))?;
    let cfg = PlanConfig::for_topology(&topo, strategy);
    let placement = boot(&mut Memblock::new(), &topo, &cfg)?;
    println!("{placement}");
    for k in placement.locality_summary() {
        println!(
            "{:?}: {} local, {} fallback, {} off-home without a node hint",
            k.kind, k.local, k.fallback, k.off_home_no_node
        );
    }
    Ok(())
}
