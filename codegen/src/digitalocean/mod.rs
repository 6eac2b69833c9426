//! DigitalOcean objects and the monthly cost estimate.

use crate::{Expansion, Result, spec::WorkbenchSpec};

/// The workbench's DigitalOcean objects (project, VPC, cluster, firewall, registry,
/// DNS records, uptime checks) in dependency order, and their monthly cost.
pub fn workbench(_spec: &WorkbenchSpec) -> Result<Expansion> {
    // Owned by the DigitalOcean work; filled in there.
    Ok(Expansion::default())
}
