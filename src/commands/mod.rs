//! The command-line commands other than `serve`: `check`, `dead`, `init`, `recent`, `send`,
//! `session` and `status`; and how every command, `serve` too, ends the process (`finish`).

pub mod check;
pub mod dead;
pub mod finish;
pub mod init;
pub mod recent;
pub mod send;
pub mod session;
pub mod status;
