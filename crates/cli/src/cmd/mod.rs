//! One module per subcommand.

pub mod memblock;
