//! Expansion entry points: one function per resource, pure and deterministic.

use crate::{
    AttrPath, Diagnostics, Error, Expansion, Renderer, Result, names, spec::WorkbenchSpec,
};

/// Validates a workbench spec; errors carry attribute paths.
pub fn validate_workbench(spec: &WorkbenchSpec) -> Diagnostics {
    let mut d = Diagnostics::new();
    names::dns1123_label(&AttrPath::attr("name"), &spec.name, &mut d);
    d.extend(crate::digitalocean::validate(spec));
    d
}

/// Expands `ipai_workbench` into its files, migrations and DigitalOcean objects.
pub fn expand_workbench(spec: &WorkbenchSpec, r: &Renderer) -> Result<Expansion> {
    let diags = validate_workbench(spec);
    if diags.has_errors() {
        return Err(Error::Invalid(diags));
    }
    let mut exp = Expansion::default();
    exp.merge(crate::kubernetes::workbench(spec, r)?);
    exp.merge(crate::supabase::workbench(spec, r)?);
    exp.merge(crate::digitalocean::workbench(spec)?);
    Ok(exp)
}
