//! Shared test helpers.
pub mod linux_model;
