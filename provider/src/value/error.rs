//! The value layer's error type.

use ipai_codegen::{AttrPath, Diagnostic, PathStep};

/// What can go wrong decoding, encoding or describing a cty value.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// A type description is not valid Terraform JSON type syntax.
    #[error("invalid type description {found}: {detail}")]
    InvalidType {
        /// The offending JSON, compact.
        found: String,
        /// What is wrong with it.
        detail: String,
    },
    /// The input does not hold a value of the expected type, or is malformed.
    #[error("cannot decode value{}: {detail}", at(path))]
    Decode {
        /// Where in the value the problem is (empty: the value as a whole).
        path: AttrPath,
        /// What is wrong.
        detail: String,
    },
    /// A value does not conform to the type it is encoded as.
    #[error("cannot encode value{}: {detail}", at(path))]
    Encode {
        /// Where in the value the problem is (empty: the value as a whole).
        path: AttrPath,
        /// What is wrong.
        detail: String,
    },
}

fn at(path: &AttrPath) -> String {
    if path.0.is_empty() {
        String::new()
    } else {
        format!(" at {path}")
    }
}

impl Error {
    pub(crate) fn decode(detail: impl Into<String>) -> Self {
        Self::Decode {
            path: AttrPath::root(),
            detail: detail.into(),
        }
    }

    pub(crate) fn encode(detail: impl Into<String>) -> Self {
        Self::Encode {
            path: AttrPath::root(),
            detail: detail.into(),
        }
    }

    pub(crate) fn invalid_type(found: &serde_json::Value, detail: impl Into<String>) -> Self {
        Self::InvalidType {
            found: found.to_string(),
            detail: detail.into(),
        }
    }

    /// The same error, one step further down: errors are built at the leaf and get their
    /// path while the recursion unwinds, so the happy path never builds paths.
    pub(crate) fn within(mut self, step: PathStep) -> Self {
        if let Self::Decode { path, .. } | Self::Encode { path, .. } = &mut self {
            path.0.insert(0, step);
        }
        self
    }

    /// The attribute path the error is about (empty for the value as a whole).
    pub fn path(&self) -> AttrPath {
        match self {
            Self::Decode { path, .. } | Self::Encode { path, .. } => path.clone(),
            Self::InvalidType { .. } => AttrPath::root(),
        }
    }

    /// The error as a diagnostic on its attribute path, `prefix` first (e.g. the path of the
    /// attribute that holds this value).
    pub fn to_diagnostic(&self, prefix: &AttrPath) -> Diagnostic {
        let mut path = prefix.clone();
        path.0.extend(self.path().0);
        let (summary, detail) = match self {
            Self::InvalidType { found, detail } => (
                "Invalid type description",
                format!("The type {found} is not valid: {detail}."),
            ),
            Self::Decode { detail, .. } => ("Invalid value", format!("{detail}.")),
            Self::Encode { detail, .. } => ("Value does not match its type", format!("{detail}.")),
        };
        Diagnostic::error(path, summary, detail)
    }
}

/// Result with the value layer's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
