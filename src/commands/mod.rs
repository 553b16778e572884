//! The command-line commands other than `serve`'s flag parsing: `check` and `init`.

pub mod check;
pub mod init;
