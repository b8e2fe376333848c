//! `cargo bench -p memblock`: the boot-like trace of `memblock::trace` (8192 CPUs on
//! 256 nodes, 4 allocations per CPU, then frees for every 4th CPU), timed from a
//! prepared memblock, with the gap index (the default) and with the linear walk Linux
//! does (`Memblock::set_linear_search`). Sample count and time are kept small so the
//! bench finishes in seconds.

// criterion_group! generates an undocumented `pub fn benches`.
#![allow(missing_docs)]

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use memblock::replay::{apply, parse_line, Op};
use memblock::trace::{random_script, BootTrace};
use memblock::Memblock;

/// Discards what the replay prints: only the allocator is timed.
struct Sink;

impl core::fmt::Write for Sink {
    fn write_str(&mut self, _: &str) -> core::fmt::Result {
        Ok(())
    }
}

/// The random replay script of `memblock::trace::random_script` (seed 1), parsed up
/// front, then executed with and without the gap index. Memory fills up early and
/// most later allocations fail after searching every free range, which is where the
/// index matters most.
fn random_ops(c: &mut Criterion) {
    const OPS: usize = 100_000;
    let script = random_script(1, OPS);
    let ops: Vec<Op> = script
        .lines()
        .filter_map(|l| parse_line(l).expect("the random script parses"))
        .collect();
    let run = |mb: &mut Memblock| {
        for op in &ops {
            let _ = apply(mb, op, &mut Sink);
        }
    };
    let mut group = c.benchmark_group("memblock");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(100))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Elements(ops.len() as u64));
    group.bench_function("random_100k_ops", |b| {
        b.iter_batched(Memblock::new, |mut mb| run(&mut mb), BatchSize::LargeInput)
    });
    group.bench_function("random_100k_ops_linear", |b| {
        b.iter_batched(
            || {
                let mut mb = Memblock::new();
                mb.set_linear_search(true);
                mb
            },
            |mut mb| run(&mut mb),
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

fn boot_trace(c: &mut Criterion) {
    let trace = BootTrace::default();
    let base = trace.setup();
    let ops = trace
        .run(&mut base.clone())
        .expect("the default trace runs")
        .ops();
    let mut group = c.benchmark_group("memblock");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Elements(ops));
    group.bench_function("boot_trace_8192cpus_256nodes", |b| {
        b.iter_batched(
            || base.clone(),
            |mut mb| trace.run(&mut mb),
            BatchSize::LargeInput,
        )
    });
    let mut linear = base.clone();
    linear.set_linear_search(true);
    group.bench_function("boot_trace_8192cpus_256nodes_linear", |b| {
        b.iter_batched(
            || linear.clone(),
            |mut mb| trace.run(&mut mb),
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group!(benches, boot_trace, random_ops);
criterion_main!(benches);
