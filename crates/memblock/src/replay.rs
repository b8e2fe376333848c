//! The replay language of `numaboot memblock replay` (placeholder, filled in next).
