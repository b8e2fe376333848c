//! Criterion benchmark of the boot-like trace (placeholder).
fn main() {}
