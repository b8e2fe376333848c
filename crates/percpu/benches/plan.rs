//! Planning time and heap for 64 to 8192 CPUs, both strategies (`cargo bench -p percpu`).
//!
//! Before criterion's timing, each point is run once under a counting allocator and its
//! heap use (peak bytes live during the plan, and bytes of the returned report) is
//! printed, so the closing note can quote memory next to time.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Duration;

use criterion::{BenchmarkId, Criterion};
use memblock::Memblock;
use percpu::{PlanConfig, Strategy};
use topology::{synthetic, SyntheticSpec, Topology};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so
// `System`'s guarantees hold; the counters are only statistics.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(layout.size(), Relaxed) + layout.size();
        PEAK.fetch_max(live, Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > layout.size() {
            let live = LIVE.fetch_add(new_size - layout.size(), Relaxed) + new_size - layout.size();
            PEAK.fetch_max(live, Relaxed);
        } else {
            LIVE.fetch_sub(layout.size() - new_size, Relaxed);
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const POINTS: [u32; 4] = [64, 512, 2048, 8192];

fn machine(cpus: u32) -> Topology {
    synthetic(&SyntheticSpec {
        nodes: (cpus / 32).clamp(1, 256),
        cpus,
        threads_per_core: 8,
        seed: 1,
        ..Default::default()
    })
    .expect("synthetic machine")
}

fn config(topo: &Topology, strategy: Strategy) -> PlanConfig {
    // Hash guest: the RMA limit applies, the common pseries case. A kernel for these
    // machines is built with NR_CPUS at least the CPU count, so every CPU is planned
    // (for_topology's default of 2048 would cap the larger points).
    let mut cfg = PlanConfig::for_topology(topo, strategy);
    cfg.nr_cpu_ids = cfg
        .nr_cpu_ids
        .max(u32::try_from(topo.cpus.len()).unwrap_or(u32::MAX));
    cfg
}

fn report_memory() {
    eprintln!("strategy    cpus  peak-heap-KiB  report-KiB  memblock-calls  structures");
    for strategy in Strategy::ALL {
        for cpus in POINTS {
            let topo = machine(cpus);
            let cfg = config(&topo, strategy);
            let mut mb = Memblock::new();
            percpu::init_memblock(&mut mb, &topo, &cfg).expect("init");
            let base = LIVE.load(Relaxed);
            PEAK.store(base, Relaxed);
            let p = percpu::plan(&mut mb, &topo, &cfg).expect("plan");
            let peak = PEAK.load(Relaxed) - base;
            let kept = LIVE.load(Relaxed).saturating_sub(base);
            eprintln!(
                "{:<10} {:>5} {:>14} {:>11} {:>15} {:>11}",
                strategy.name(),
                cpus,
                peak / 1024,
                kept / 1024,
                p.ops.len(),
                p.live().count()
            );
        }
    }
}

fn bench(c: &mut Criterion) {
    report_memory();
    let mut g = c.benchmark_group("plan");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2));
    for strategy in Strategy::ALL {
        for cpus in POINTS {
            let topo = machine(cpus);
            let cfg = config(&topo, strategy);
            let mut mb = Memblock::new();
            percpu::init_memblock(&mut mb, &topo, &cfg).expect("init");
            g.bench_with_input(BenchmarkId::new(strategy.name(), cpus), &cpus, |b, _| {
                b.iter(|| {
                    let mut m = mb.clone();
                    black_box(percpu::plan(&mut m, &topo, &cfg).expect("plan"))
                })
            });
        }
    }
    g.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    c.final_summary();
}
