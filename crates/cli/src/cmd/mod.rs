//! One module per subcommand.

pub mod hv;
pub mod layout;
pub mod memblock;
pub mod topology;
