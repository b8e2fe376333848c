//! Unit tests for mutants of the leaves found by the leaves' mutation run (docs/MUTATION.md), part 2.
