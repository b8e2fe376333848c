//! The report and configuration round-trip through JSON (`--features serde`).
#![cfg(feature = "serde")]

mod common;

use common::*;
use percpu::{Placement, PlanConfig, Strategy};

#[test]
fn placement_and_config_round_trip_through_json() {
    let topo = machine(2, 2, 4 * GIB, GIB);
    for strategy in Strategy::ALL {
        let c = cfg(&topo, strategy, true);
        let (_, p) = run(&topo, &c);
        let json = serde_json::to_string(&p).unwrap();
        let back: Placement = serde_json::from_str(&json).unwrap();
        assert_eq!(back, p);
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        // Addresses serialize as plain numbers, nodes as numbers.
        assert!(v["allocations"][0]["addr"].is_u64());
        assert!(v["nodes"][0]["node"].is_u64());
        let cj = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<PlanConfig>(&cj).unwrap(), c);
    }
}
