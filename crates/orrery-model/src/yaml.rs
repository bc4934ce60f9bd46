//! Configuration files in YAML: one error type for "the file could not be read" and
//! "the text is not the right shape" (serde's message, with line and column), and the
//! parse that makes it, so the server's and the agent's configurations (and the next
//! ones: rules, notification receivers) report both the same way.
//!
//! Reading the file stays with the caller (this crate does no I/O); [`YamlFileError::read`]
//! wraps its failure.

use serde::de::DeserializeOwned;
use std::path::{Path, PathBuf};

/// Why a YAML file did not become its type. The texts are the ones `orrery check`
/// prints and tests check: `reading PATH: OS error` and `PATH: message at line L column C`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum YamlFileError {
    /// The file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// YAML syntax or shape error (the message has line and column).
    #[error("{path}: {message}")]
    Parse {
        /// The file, as named in messages.
        path: String,
        /// serde's message with position.
        message: String,
    },
}

impl YamlFileError {
    /// The error for a failed read of `path`.
    pub fn read(path: &Path, source: std::io::Error) -> Self {
        YamlFileError::Read {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Deserializes `text` as YAML (unknown keys are refused where `T` says so); `name` is
/// the file as messages name it.
pub fn parse<T: DeserializeOwned>(text: &str, name: &str) -> Result<T, YamlFileError> {
    serde_saphyr::from_str(text).map_err(|e| YamlFileError::Parse {
        path: name.to_string(),
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Cfg {
        a: u32,
    }

    #[test]
    fn parse_error_names_the_file_and_the_position() {
        let e = parse::<Cfg>("a: 1\nb: 2\n", "f.yml").unwrap_err();
        let text = e.to_string();
        assert!(text.starts_with("f.yml: "), "{text}");
        assert!(text.contains("line 2"), "{text}");
    }

    #[test]
    fn read_error_names_the_file() {
        let e = YamlFileError::read(
            Path::new("/nope.yml"),
            std::io::Error::from(std::io::ErrorKind::NotFound),
        );
        assert!(e.to_string().starts_with("reading /nope.yml: "), "{e}");
        assert!(std::error::Error::source(&e).is_some());
    }
}
