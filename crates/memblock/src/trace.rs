//! The boot-like benchmark trace (placeholder, filled in next).
