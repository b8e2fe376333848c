//! Unit tests for mutants of shard 2/4 of the leaves' mutation run (docs/MUTATION.md).
