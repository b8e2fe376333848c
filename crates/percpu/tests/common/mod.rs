//! Machines for the tests, built directly as `Topology` values.
#![allow(dead_code)]

use memblock::Memblock;
use percpu::{
    FallbackReason, NoNodeReason, Outcome, Placement, PlanConfig, Strategy, StructureKind as K,
};
use phys::{NodeId, PhysAddr, PhysSize};
use topology::{Cpu, MemoryRange, Node, Topology};

pub const MIB: u64 = 1 << 20;
pub const GIB: u64 = 1 << 30;

pub fn nid(i: u32) -> NodeId {
    NodeId::new(i).unwrap()
}

/// `nodes` nodes of `mem_per_node` bytes each, laid out from address 0, and
/// `cpus_per_node` CPUs on each node numbered node by node; RMA `rma`.
pub fn machine(nodes: u32, cpus_per_node: u32, mem_per_node: u64, rma: u64) -> Topology {
    let mut cpus = Vec::new();
    for n in 0..nodes {
        for t in 0..cpus_per_node {
            let i = n * cpus_per_node + t;
            cpus.push(Cpu {
                logical_id: i,
                hw_id: i,
                node: NodeId::new(n),
            });
        }
    }
    let memory = (0..nodes)
        .map(|n| MemoryRange {
            base: PhysAddr::new(u64::from(n) * mem_per_node),
            size: PhysSize::new(mem_per_node),
            node: NodeId::new(n),
        })
        .collect();
    Topology {
        cpus,
        memory,
        nodes: (0..nodes).map(|n| Node { id: nid(n) }).collect(),
        distances: (0..nodes)
            .map(|a| (0..nodes).map(|b| if a == b { 10 } else { 40 }).collect())
            .collect(),
        rma_size: PhysSize::new(rma),
        hypervisor_mode: false,
    }
}

/// The configuration the hand-derived expectations of these tests were worked out
/// with: a 32 MiB kernel image with no text boundaries of its own and a 0xa80-byte
/// paca, whatever the library's current defaults.
pub fn cfg(topo: &Topology, strategy: Strategy, radix: bool) -> PlanConfig {
    let mut c = PlanConfig::for_topology(topo, strategy);
    c.radix = radix;
    c.kernel = percpu::early::KernelImage::ending_at(phys::PhysAddr::new(32 << 20));
    c.paca_size = percpu::consts::PACA_SIZE_4_15;
    c
}

pub fn run(topo: &Topology, cfg: &PlanConfig) -> (Memblock, Placement) {
    let mut mb = Memblock::new();
    let p = percpu::boot(&mut mb, topo, cfg).expect("plan");
    (mb, p)
}

/// The limit Linux 6.1 allocates each per-CPU structure below, straight from the code:
/// `allocate_paca` and `emergency_stack_init` use min(ppc64_bolted_size(),
/// ppc64_rma_size); the machine-check stack of an LPAR additionally stays below 4 GiB;
/// `irqstack_early_init` uses ppc64_bolted_size() alone. `memblock_alloc_try_nid` also
/// clamps to `memblock.current_limit`, but that is the RMA only until `early_init_mmu`
/// (`htab_initialize` / `radix__early_init_mmu` lift it), i.e. only for the boot CPU's
/// paca data, whose own limit is already below the RMA.
pub fn linux61_limit(kind: K, topo: &Topology, cfg: &PlanConfig) -> u64 {
    let bolted = if cfg.radix { u64::MAX } else { 1u64 << 40 };
    let rma = if cfg.radix || cfg.hypervisor_mode {
        u64::MAX
    } else {
        topo.rma_size.as_u64()
    };
    let low = bolted.min(rma);
    match kind {
        K::SoftirqStack | K::HardirqStack => bolted,
        K::McEmergencyStack if !cfg.hypervisor_mode => low.min(1 << 32),
        _ => low,
    }
}

pub fn node_has_memory_below(topo: &Topology, n: phys::NodeId, limit: u64) -> bool {
    topo.memory
        .iter()
        .any(|r| r.node == Some(n) && r.base.as_u64() < limit)
}

pub fn check_linux61_locality(topo: &Topology, cfg: &PlanConfig) {
    let (_, p) = run(topo, cfg);
    check_linux61_locality_of(topo, cfg, &p);
}

/// [`check_linux61_locality`] on a placement already made.
pub fn check_linux61_locality_of(topo: &Topology, cfg: &PlanConfig, p: &Placement) {
    let mut checked = 0;
    for a in p.live().filter(|a| a.kind.is_per_cpu()) {
        let cpu = a.cpu.unwrap();
        // numa_setup_cpu: the CPU's node, or first_online_node when it has none.
        let home = topo.cpu_node(cpu).unwrap();
        let limit = linux61_limit(a.kind, topo, cfg);
        assert!(
            a.end().as_u64() <= limit,
            "{} of CPU {cpu} at {} ends above its limit {limit:#x}",
            a.kind,
            a.addr
        );
        let boot_paca_data =
            cpu == cfg.boot_cpu && matches!(a.kind, K::Paca | K::Lppaca | K::SlbShadow);
        if boot_paca_data {
            // alloc_paca_data: NUMA_NO_NODE, bottom-up → the lowest free memory.
            assert_eq!(a.requested_node, None);
            assert_eq!(
                a.outcome,
                Outcome::NoNodeRequested(NoNodeReason::BootCpuBeforeNuma)
            );
            assert_eq!(
                a.memory_node, topo.memory[0].node,
                "bottom-up from the lowest memory"
            );
            continue;
        }
        assert_eq!(a.requested_node, Some(home), "{} of CPU {cpu}", a.kind);
        if node_has_memory_below(topo, home, limit) {
            assert_eq!(a.outcome, Outcome::Local, "{} of CPU {cpu}", a.kind);
            assert_eq!(a.memory_node, Some(home));
        } else {
            let reason = if topo.memory.iter().any(|r| r.node == Some(home)) {
                FallbackReason::NodeMemoryAboveLimit
            } else {
                FallbackReason::NodeHasNoMemory
            };
            assert_eq!(
                a.outcome,
                Outcome::Fallback(reason),
                "{} of CPU {cpu}",
                a.kind
            );
            assert_ne!(a.memory_node, Some(home));
        }
        checked += 1;
    }
    assert!(checked > 0);
}

/// Feeding the plan's calls to `numaboot memblock replay`'s engine reproduces every
/// allocation address and the final memory and reserved arrays.
pub fn replay_matches(topo: &Topology, cfg: &PlanConfig) {
    let (mb, p) = run(topo, cfg);
    let out = memblock::replay::run(&p.replay_script()).expect("script parses");
    let mut expected = String::new();
    for op in &p.ops {
        if op.is_alloc() {
            match op.result {
                Some(a) => expected.push_str(&format!("alloc -> {a}\n")),
                None => expected.push_str("alloc -> fail\n"),
            }
        }
    }
    memblock::replay::dump(&mb, &mut expected).unwrap();
    assert_eq!(out, expected, "{} radix={}", cfg.strategy, cfg.radix);
}

/// Every live lppaca: reserved and aligned as its strategy does it (Linux: 1 KiB at
/// 1 KiB; beyond Linux: 640 at 128), PAPR placement for the advertised size.
pub fn check_lppacas(p: &Placement) -> usize {
    let mut n = 0;
    // Linux reserves and advertises 1 KiB, 1 KiB-aligned; the strategies beyond Linux
    // 640 bytes, 128-aligned.
    let field = p.strategy.lppaca_size_field();
    let align = if p.strategy.is_linux() { 0x400 } else { 128 };
    for a in p.live().filter(|a| a.kind == K::Lppaca) {
        n += 1;
        assert!(a.addr.is_aligned(align), "lppaca at {}", a.addr);
        assert_eq!(a.reserved, PhysSize::new(field));
        assert_eq!(a.size, PhysSize::new(640));
        papr::lppaca::vpa_placement_ok(a.addr, PhysSize::new(field)).unwrap();
    }
    n
}
