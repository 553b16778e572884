//! The command-line commands other than `serve`: `check`, `init` and `recent`.

pub mod check;
pub mod init;
pub mod recent;
