//! The resource types, one module each. To add one: implement
//! [`crate::framework::Resource`] for its codegen spec and add it to [`registry`].

pub mod medallion;
pub mod workbench;

use crate::framework::{Registry, register};

/// Every resource type the provider serves.
pub fn registry() -> Registry {
    Registry::of(vec![
        register(workbench::Workbench),
        register(medallion::MedallionLayer),
    ])
}

/// Runs blocking file-system work off the async workers; a panic inside stays a panic
/// (the server turns it into a diagnostic).
pub(crate) async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    match tokio::task::spawn_blocking(f).await {
        Ok(v) => v,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}
