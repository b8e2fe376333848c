//! Unit tests for mutants of `view.rs` and the inline store found by the leaves' mutation run (docs/MUTATION.md).
