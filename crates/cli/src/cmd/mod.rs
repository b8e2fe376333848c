//! One module per subcommand.

pub mod check;
pub mod compare;
pub mod files;
pub mod hv;
pub mod layout;
pub mod memblock;
pub mod opts;
pub mod plan;
pub mod topology;
pub mod verify;
