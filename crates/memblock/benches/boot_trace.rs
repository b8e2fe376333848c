//! `cargo bench -p memblock`: the boot-like trace of `memblock::trace` (8192 CPUs on
//! 256 nodes, 4 allocations per CPU, then frees for every 4th CPU), timed from a
//! prepared memblock, with the gap index (the default) and with the linear walk Linux
//! does (`Memblock::set_linear_search`). Sample count and time are kept small so the
//! bench finishes in seconds.

// criterion_group! generates an undocumented `pub fn benches`.
#![allow(missing_docs)]

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use memblock::trace::BootTrace;

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

criterion_group!(benches, boot_trace);
criterion_main!(benches);
