//! The command-line commands other than `serve`: `check`, `dead`, `init` and `recent`.

pub mod check;
pub mod dead;
pub mod init;
pub mod recent;
