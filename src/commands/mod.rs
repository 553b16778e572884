//! The command-line commands other than `serve`: `check`, `dead`, `init`, `recent`, `send`,
//! `session` and `status`.

pub mod check;
pub mod dead;
pub mod init;
pub mod recent;
pub mod send;
pub mod session;
pub mod status;
