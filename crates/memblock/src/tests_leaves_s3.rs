//! Unit tests for mutants of shard 3/4 of the leaves' mutation run (docs/MUTATION.md).
