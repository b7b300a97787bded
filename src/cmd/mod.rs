//! One module per subcommand: argument structs and a call into a library.

pub mod bench;
pub mod billing;
pub mod decode;
pub mod demo;
