//! One module per subcommand.

pub mod check;
pub mod compare;
pub mod hv;
pub mod layout;
pub mod memblock;
pub mod plan;
pub mod topology;
pub mod verify;
