//! One module per subcommand.

pub mod layout;
pub mod memblock;
pub mod topology;
