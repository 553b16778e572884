//! `pyrowire init [DIR]`: write a commented starter `settings.toml` and a `Dockerfile`, never
//! overwriting an existing file.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

/// The starter settings: the repository's own documented `settings.toml`.
pub(crate) const STARTER_SETTINGS: &str = include_str!("../../settings.toml");

/// A Dockerfile that adds the settings to a pyrowire image.
pub(crate) const STARTER_DOCKERFILE: &str = include_str!("../../scripts/app.Dockerfile");

/// Why `init` stopped.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// The file is already there; nothing was written over it.
    #[error("`{0}` already exists; not overwriting it")]
    Exists(PathBuf),
    /// Writing failed.
    #[error("failed to write `{path}`")]
    Write {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Writes the starter files into `dir` (created if needed); returns the paths written.
pub fn init(dir: &Path) -> Result<Vec<PathBuf>, InitError> {
    let files = [
        (dir.join("settings.toml"), STARTER_SETTINGS),
        (dir.join("Dockerfile"), STARTER_DOCKERFILE),
    ];
    if let Some((path, _)) = files.iter().find(|(path, _)| path.exists()) {
        return Err(InitError::Exists(path.clone()));
    }
    std::fs::create_dir_all(dir).map_err(|source| InitError::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut written = Vec::new();
    for (path, content) in files {
        let result = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .and_then(|mut file| std::io::Write::write_all(&mut file, content.as_bytes()));
        match result {
            Ok(()) => written.push(path),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => return Err(InitError::Exists(path)),
            Err(source) => return Err(InitError::Write { path, source }),
        }
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_both_files_and_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let written = init(dir.path()).unwrap();
        assert_eq!(written.len(), 2);
        assert!(std::fs::read_to_string(dir.path().join("settings.toml"))
            .unwrap()
            .contains("[topics."));
        assert!(matches!(init(dir.path()), Err(InitError::Exists(_))));
    }
}
