//! Typed specs of the four resources, with their JSON Schema.
//!
//! Field names are the HCL attribute names, so an attribute path in a diagnostic is the
//! same in the provider and the CLI.

pub mod bundle;
pub mod source;
pub mod workbench;

pub use bundle::BundleSpec;
pub use workbench::WorkbenchSpec;
