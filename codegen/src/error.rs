//! The crate's one error type.

/// Everything that can go wrong in codegen outside of spec validation (which yields
/// [`crate::Diagnostics`] instead).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The spec did not validate; the diagnostics say where.
    #[error("the spec is invalid ({} diagnostics)", .0.0.len())]
    Invalid(crate::Diagnostics),
    /// A template failed to render.
    #[error("template {name}: {message}")]
    Template {
        /// The template's name, e.g. `kubernetes/namespace.yaml`.
        name: String,
        /// What the template engine said, with line where it knows it.
        message: String,
    },
    /// A spec file is not valid YAML/JSON or does not have the spec's shape.
    #[error("{}:{}: {message}", .line.unwrap_or(0), .column.unwrap_or(0))]
    Parse {
        /// What is wrong.
        message: String,
        /// 1-based line, when known.
        line: Option<usize>,
        /// 1-based column, when known.
        column: Option<usize>,
    },
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// Result with the crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
