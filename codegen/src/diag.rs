//! Diagnostics with attribute paths, shared by the CLI and the provider.
//!
//! Every error a user can cause is a [`Diagnostic`]: a summary, a detail and the
//! [`AttrPath`] of the offending attribute. The provider maps them one to one onto
//! tfplugin6 diagnostics; the CLI prints them with the spec file's line.

use std::fmt;

use serde::{Deserialize, Serialize};

/// One step of an attribute path, as Terraform knows them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum PathStep {
    /// An object attribute or block name.
    Attr(String),
    /// A list element.
    Index(u64),
    /// A map element.
    Key(String),
}

/// The path of an attribute inside a resource or spec, e.g. `tables[0].columns[2].name`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AttrPath(pub Vec<PathStep>);

impl AttrPath {
    /// The empty path: the resource as a whole.
    pub fn root() -> Self {
        Self(Vec::new())
    }

    /// A path made of one attribute.
    pub fn attr(name: impl Into<String>) -> Self {
        Self(vec![PathStep::Attr(name.into())])
    }

    /// This path followed by an attribute.
    #[must_use]
    pub fn at(&self, name: impl Into<String>) -> Self {
        let mut steps = self.0.clone();
        steps.push(PathStep::Attr(name.into()));
        Self(steps)
    }

    /// This path followed by a list index.
    #[must_use]
    pub fn index(&self, i: usize) -> Self {
        let mut steps = self.0.clone();
        steps.push(PathStep::Index(i as u64));
        Self(steps)
    }

    /// This path followed by a map key.
    #[must_use]
    pub fn key(&self, k: impl Into<String>) -> Self {
        let mut steps = self.0.clone();
        steps.push(PathStep::Key(k.into()));
        Self(steps)
    }
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, step) in self.0.iter().enumerate() {
            match step {
                PathStep::Attr(a) if i == 0 => write!(f, "{a}")?,
                PathStep::Attr(a) => write!(f, ".{a}")?,
                PathStep::Index(n) => write!(f, "[{n}]")?,
                PathStep::Key(k) => write!(f, "[{k:?}]")?,
            }
        }
        Ok(())
    }
}

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Severity {
    /// Stops the operation; nothing is written.
    Error,
    /// Reported, the operation goes on.
    Warning,
}

/// A problem found in a spec, with where it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// One line, what is wrong.
    pub summary: String,
    /// Why, and how to fix it.
    pub detail: String,
    /// The offending attribute.
    pub path: AttrPath,
}

impl Diagnostic {
    /// An error at `path`.
    pub fn error(path: AttrPath, summary: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            severity: Severity::Error,
            summary: summary.into(),
            detail: detail.into(),
            path,
        }
    }

    /// A warning at `path`.
    pub fn warning(path: AttrPath, summary: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            severity: Severity::Warning,
            summary: summary.into(),
            detail: detail.into(),
            path,
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        if self.path.0.is_empty() {
            write!(f, "{sev}: {}: {}", self.summary, self.detail)
        } else {
            write!(f, "{sev}: {}: {}: {}", self.path, self.summary, self.detail)
        }
    }
}

/// A collection of diagnostics; `has_errors` decides whether anything may be written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    /// No diagnostics.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an error.
    pub fn error(&mut self, path: AttrPath, summary: impl Into<String>, detail: impl Into<String>) {
        self.0.push(Diagnostic::error(path, summary, detail));
    }

    /// Adds a warning.
    pub fn warning(
        &mut self,
        path: AttrPath,
        summary: impl Into<String>,
        detail: impl Into<String>,
    ) {
        self.0.push(Diagnostic::warning(path, summary, detail));
    }

    /// Adds every diagnostic of `other`.
    pub fn extend(&mut self, other: Diagnostics) {
        self.0.extend(other.0);
    }

    /// The same diagnostics with `prefix` put in front of every path (e.g. a resource's
    /// diagnostics placed inside a bundle under `workbench`).
    #[must_use]
    pub fn prefixed(mut self, prefix: &AttrPath) -> Self {
        for d in &mut self.0 {
            let mut steps = prefix.0.clone();
            steps.append(&mut d.path.0);
            d.path.0 = steps;
        }
        self
    }

    /// True when at least one diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.0.iter().any(|d| d.severity == Severity::Error)
    }

    /// `Ok(value)` when there is no error, otherwise `Err(self)`.
    pub fn into_result<T>(self, value: T) -> Result<T, Diagnostics> {
        if self.has_errors() {
            Err(self)
        } else {
            Ok(value)
        }
    }
}
