//! Supabase SQL: the `ip_workbench` metadata schema, medallion layers, RLS and grants.

use crate::{Expansion, Renderer, Result, spec::WorkbenchSpec};

/// The workbench's `ip_workbench` metadata schema and migration ledger.
pub fn workbench(_spec: &WorkbenchSpec, _r: &Renderer) -> Result<Expansion> {
    // Owned by the Supabase work; filled in there.
    Ok(Expansion::default())
}
