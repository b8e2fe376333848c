//! Unit tests for mutants of shard 1/4 of the leaves' mutation run (docs/MUTATION.md).
