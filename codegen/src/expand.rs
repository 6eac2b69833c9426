//! Expansion entry points: one function per resource, pure and deterministic.

use crate::{
    AttrPath, Diagnostics, Error, Expansion, Renderer, Result, names,
    spec::{BundleSpec, LitellmRouteSpec, OcrStackSpec, WorkbenchSpec},
};

/// Validates a workbench spec; errors carry attribute paths.
pub fn validate_workbench(spec: &WorkbenchSpec) -> Diagnostics {
    let mut d = Diagnostics::new();
    names::dns1123_label(&AttrPath::attr("name"), &spec.name, &mut d);
    if let Some(s) = &spec.supabase {
        let at = AttrPath::attr("supabase").at("schema");
        crate::supabase::validate::domain_schema(&at, &s.schema, &mut d);
    }
    d.extend(crate::digitalocean::validate(spec));
    crate::kubernetes::validate_workbench(spec, &mut d);
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
    exp.files
        .insert(workbench_summary_path(&spec.name), workbench_summary(spec)?);
    Ok(exp)
}

/// Validates every resource of a bundle; paths start with the bundle field
/// (`workbench.name`, `litellm_routes[0].model_name`, ...).
pub fn validate_bundle(bundle: &BundleSpec) -> Diagnostics {
    let mut d = Diagnostics::new();
    d.extend(validate_workbench(&bundle.workbench).prefixed(&AttrPath::attr("workbench")));
    d.extend(crate::supabase::layer_models(&[&bundle.workbench], &bundle.medallion_layers).1);
    let wb = &bundle.workbench;
    let routes = AttrPath::attr("litellm_routes");
    for (i, route) in bundle.litellm_routes.iter().enumerate() {
        same_workbench(&routes.index(i), &route.workbench, &wb.name, &mut d);
    }
    d.extend(crate::kubernetes::litellm::validate_all(
        &bundle.litellm_routes,
        &routes,
    ));
    let stacks = AttrPath::attr("ocr_stacks");
    let mut names = std::collections::BTreeSet::new();
    for (i, stack) in bundle.ocr_stacks.iter().enumerate() {
        let at = stacks.index(i);
        same_workbench(&at, &stack.workbench, &wb.name, &mut d);
        if !names.insert(stack.name.as_str()) {
            d.error(
                at.at("name"),
                "Duplicate OCR stack",
                format!("Another OCR stack is already named {:?}.", stack.name),
            );
        }
        d.extend(validate_ocr_stack(stack, Some(&wb.domain)).prefixed(&at));
    }
    d
}

/// A bundle holds one workbench: every resource must name it.
fn same_workbench(at: &AttrPath, named: &str, workbench: &str, d: &mut Diagnostics) {
    if named != workbench {
        d.error(
            at.at("workbench"),
            "Unknown workbench",
            format!("{named:?} is not this bundle's workbench {workbench:?}."),
        );
    }
}

/// Expands a whole bundle: every resource's expansion plus the aggregate files
/// ([`crate::aggregate`]). Its files are exactly what the provider writes for the same
/// resources.
pub fn expand_bundle(bundle: &BundleSpec, r: &Renderer) -> Result<Expansion> {
    let diags = validate_bundle(bundle);
    if diags.has_errors() {
        return Err(Error::Invalid(diags));
    }
    let mut exp = expand_workbench(&bundle.workbench, r)?;
    exp.merge(crate::supabase::medallion_layers(
        &[&bundle.workbench],
        &bundle.medallion_layers,
        r,
    )?);
    for route in &bundle.litellm_routes {
        let (path, text) = crate::kubernetes::litellm::fragment(route)?;
        exp.files.insert(path, text);
    }
    for stack in &bundle.ocr_stacks {
        exp.merge(expand_ocr_stack(stack, &bundle.workbench.domain, r)?);
    }
    let aggregates = crate::aggregate::aggregate(&bundle.workbench.name, &exp.files, r)?;
    exp.files.extend(aggregates);
    Ok(exp)
}

/// Validates an `ipai_litellm_route` against the other routes of its workbench (`others`
/// without the route itself); paths are relative to the route.
pub fn validate_litellm_route(spec: &LitellmRouteSpec, others: &[LitellmRouteSpec]) -> Diagnostics {
    crate::kubernetes::litellm::validate(spec, others)
}

/// Expands one `ipai_litellm_route` into its fragment,
/// `<wb>/kubernetes/litellm/routes/<model_name>.yaml`. The gateway (merged `config.yaml`,
/// Deployment, ...) is an aggregate: [`crate::aggregate::aggregate`] recomputes it from
/// every fragment present. `others` are the workbench's other routes.
pub fn expand_litellm_route(
    spec: &LitellmRouteSpec,
    others: &[LitellmRouteSpec],
) -> Result<Expansion> {
    let diags = validate_litellm_route(spec, others);
    if diags.has_errors() {
        return Err(Error::Invalid(diags));
    }
    let (path, text) = crate::kubernetes::litellm::fragment(spec)?;
    Ok(Expansion {
        files: [(path, text)].into(),
        ..Expansion::default()
    })
}

/// Validates an `ipai_ocr_stack`; `domain` is its workbench's, `None` while it is not known
/// (the hostname is then not checked against it).
pub fn validate_ocr_stack(spec: &OcrStackSpec, domain: Option<&str>) -> Diagnostics {
    crate::kubernetes::ocr::validate(spec, domain)
}

/// Expands one `ipai_ocr_stack` into its manifests, its spec file (for import) and its GPU
/// node pool.
pub fn expand_ocr_stack(spec: &OcrStackSpec, domain: &str, r: &Renderer) -> Result<Expansion> {
    let mut files = crate::kubernetes::ocr::manifests(spec, domain, r)?;
    let (path, text) = crate::kubernetes::ocr::spec_file(spec)?;
    files.insert(path, text);
    let mut exp = Expansion {
        files,
        ..Expansion::default()
    };
    if let Some(pool) = crate::kubernetes::ocr::gpu_pool(spec)? {
        exp.merge(pool);
    }
    Ok(exp)
}

/// Validates one `ipai_medallion_layer` against what is known of its workbench and of the
/// workbench's other layers.
pub fn validate_medallion_layer(
    spec: &crate::spec::MedallionLayerSpec,
    ctx: &crate::supabase::LayerContext,
) -> Diagnostics {
    crate::supabase::layer_model(spec, ctx).1
}

/// Expands one `ipai_medallion_layer` from scratch: its creating migration and summary file.
pub fn expand_medallion_layer(
    spec: &crate::spec::MedallionLayerSpec,
    ctx: &crate::supabase::LayerContext,
    r: &Renderer,
) -> Result<Expansion> {
    crate::supabase::medallion(spec, ctx, r)
}

/// Path of a workbench's public summary, relative to the output directory.
pub fn workbench_summary_path(name: &str) -> String {
    format!("{name}/workbench.json")
}

/// `<workbench>/workbench.json`: the public summary the other resources read to check
/// their `workbench` reference (name, domain, region, environment, namespaces), and the
/// full spec, from which `terraform import` rebuilds the resource. Holds no secrets: the
/// workbench spec has none.
pub fn workbench_summary(spec: &WorkbenchSpec) -> Result<String> {
    let summary = serde_json::json!({
        "name": spec.name,
        "domain": spec.domain,
        "region": spec.region,
        "environment": spec.environment,
        "namespaces": crate::kubernetes::namespaces(spec),
        "spec": spec,
    });
    let mut text = serde_json::to_string_pretty(&summary).map_err(|e| Error::Template {
        name: "workbench.json".into(),
        message: e.to_string(),
    })?;
    text.push('\n');
    Ok(text)
}
