//! Unit tests for mutants of shard 0/4 of the leaves' mutation run (docs/MUTATION.md).
