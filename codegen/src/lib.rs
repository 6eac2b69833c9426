//! ipai-codegen: turns the four workbench resources into files, SQL migrations and
//! DigitalOcean objects.
//!
//! One path for everyone: a spec (from HCL through the provider, or from a YAML/JSON file
//! through the `ipai` CLI) is validated into [`Diagnostics`], then expanded by pure,
//! deterministic functions into an [`Expansion`]. The provider and the CLI call the same
//! functions, so they write byte-identical files. This crate knows nothing of Terraform
//! or gRPC.

pub mod aggregate;
pub mod diag;
pub mod digitalocean;
mod error;
pub mod expand;
pub mod expansion;
pub mod kubernetes;
pub mod names;
pub mod render;
pub mod spec;
pub mod sql;
pub mod supabase;

pub use diag::{AttrPath, Diagnostic, Diagnostics, PathStep, Severity};
pub use error::{Error, Result};
pub use expansion::{DoKind, DoObject, Expansion, Migration, sha256_hex};
pub use render::Renderer;
