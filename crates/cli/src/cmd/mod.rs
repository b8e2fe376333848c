//! One module per subcommand.

pub mod memblock;
pub mod topology;
