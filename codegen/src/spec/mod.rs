//! Typed specs of the four resources, with their JSON Schema.
//!
//! Field names are the HCL attribute names, so an attribute path in a diagnostic is the
//! same in the provider and the CLI.

pub mod bundle;
pub mod litellm;
pub mod medallion;
pub mod ocr;
pub mod source;
pub mod workbench;

pub use bundle::BundleSpec;
pub use litellm::{LitellmRouteSpec, LitellmTarget};
pub use medallion::MedallionLayerSpec;
pub use ocr::OcrStackSpec;
pub use workbench::WorkbenchSpec;
