//! The DigitalOcean target: an API client and the applier that reconciles the workbench's
//! DigitalOcean objects (created, adopted, updated in place, observed for drift, destroyed).

pub mod client;

pub use client::{ApiError, Client, ClientConfig, Token};
pub mod apply;

pub use apply::{Applier, ApplyError, DoState, Origin, PlanCheck, Timeouts, summaries};
pub mod credentials;

pub use credentials::{ClusterCredentials, ClusterLookup};
