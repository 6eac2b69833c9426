//! Registry-format documentation generated from the provider's schema.
//!
//! Input: the provider's entry of `terraform providers schema -json` (descriptions come from
//! the schema, so docs never drift from it) and the `examples/` directory (provider example,
//! `resources/<type>/resource.tf` and `import.sh`,
//! `ephemeral-resources/<type>/ephemeral-resource.tf`). Output: `index.md`,
//! `resources/<name>.md` and `ephemeral-resources/<name>.md`, laid out like the Terraform
//! Registry expects (the layout of `tfplugindocs`). `scripts/docs.sh` runs the `ipai-docs` binary that writes them to `docs/`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};
use serde_json::Value;

/// Provider name as it appears in resource type names (`ipai_workbench`).
pub const PROVIDER_NAME: &str = "ipai";

/// The generated pages, keyed by path relative to `docs/`.
pub type Pages = BTreeMap<PathBuf, String>;

/// The kinds of schema that get a page each: managed resources and ephemeral resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageKind {
    /// `resource_schemas`.
    Resource,
    /// `ephemeral_resource_schemas` (Terraform >= 1.10).
    EphemeralResource,
}

impl PageKind {
    /// Every kind, in page order.
    pub const ALL: [PageKind; 2] = [PageKind::Resource, PageKind::EphemeralResource];

    /// The key of its schemas in `terraform providers schema -json`.
    fn schemas_key(self) -> &'static str {
        match self {
            PageKind::Resource => "resource_schemas",
            PageKind::EphemeralResource => "ephemeral_resource_schemas",
        }
    }

    /// Its directory under `docs/` and under `examples/`.
    pub fn dir(self) -> &'static str {
        match self {
            PageKind::Resource => "resources",
            PageKind::EphemeralResource => "ephemeral-resources",
        }
    }

    /// Its example file in `examples/<dir>/<type>/`.
    fn example_file(self) -> &'static str {
        match self {
            PageKind::Resource => "resource.tf",
            PageKind::EphemeralResource => "ephemeral-resource.tf",
        }
    }

    /// How titles name it.
    fn label(self) -> &'static str {
        match self {
            PageKind::Resource => "Resource",
            PageKind::EphemeralResource => "Ephemeral Resource",
        }
    }
}

/// Renders every page from one provider's schema (`provider_schemas["…/ipai"]`).
pub fn render(provider_schema: &Value, examples: &Path) -> Result<Pages> {
    let mut pages = Pages::new();
    let provider_block = &provider_schema["provider"]["block"];
    pages.insert(
        PathBuf::from("index.md"),
        render_provider(provider_block, examples)?,
    );
    if !provider_schema["resource_schemas"].is_object() {
        return Err(anyhow!("the schema has no resource_schemas"));
    }
    for kind in PageKind::ALL {
        // A provider without ephemeral resources has no such key.
        let schemas = provider_schema[kind.schemas_key()].as_object();
        for (type_name, schema) in schemas.into_iter().flatten() {
            let short = type_name
                .strip_prefix(&format!("{PROVIDER_NAME}_"))
                .unwrap_or(type_name);
            pages.insert(
                PathBuf::from(format!("{}/{short}.md", kind.dir())),
                render_resource(kind, type_name, &schema["block"], examples)?,
            );
        }
    }
    Ok(pages)
}

fn render_provider(block: &Value, examples: &Path) -> Result<String> {
    let description = description_of(block);
    let mut out = front_matter(&format!("{PROVIDER_NAME} Provider"), &description);
    writeln!(out, "# {PROVIDER_NAME} Provider\n")?;
    if !description.is_empty() {
        writeln!(out, "{description}\n")?;
    }
    let example = examples.join("provider/provider.tf");
    if let Some(text) = read_optional(&example)? {
        writeln!(
            out,
            "## Example Usage\n\n```terraform\n{}\n```\n",
            text.trim_end()
        )?;
    }
    out.push_str(&schema_section(block)?);
    Ok(finish(out))
}

fn render_resource(
    kind: PageKind,
    type_name: &str,
    block: &Value,
    examples: &Path,
) -> Result<String> {
    let description = description_of(block);
    let label = kind.label();
    let mut out = front_matter(
        &format!("{type_name} {label} - terraform-provider-{PROVIDER_NAME}"),
        &description,
    );
    writeln!(out, "# {type_name} ({label})\n")?;
    if !description.is_empty() {
        writeln!(out, "{description}\n")?;
    }
    let dir = examples.join(kind.dir()).join(type_name);
    if let Some(text) = read_optional(&dir.join(kind.example_file()))? {
        writeln!(
            out,
            "## Example Usage\n\n```terraform\n{}\n```\n",
            text.trim_end()
        )?;
    }
    out.push_str(&schema_section(block)?);
    if let Some(text) = read_optional(&dir.join("import.sh"))? {
        writeln!(
            out,
            "## Import\n\nImport is supported using the following syntax:\n\n```shell\n{}\n```\n",
            text.trim_end()
        )?;
    }
    Ok(finish(out))
}

fn front_matter(title: &str, description: &str) -> String {
    let mut out = format!("---\npage_title: \"{title}\"\nsubcategory: \"\"\ndescription: |-\n");
    for line in description.lines() {
        if line.is_empty() {
            out.push('\n');
        } else {
            let _ = writeln!(out, "  {line}");
        }
    }
    out.push_str("---\n\n");
    out
}

fn finish(mut page: String) -> String {
    while page.ends_with("\n\n") {
        page.pop();
    }
    page
}

fn read_optional(path: &Path) -> Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

fn description_of(value: &Value) -> String {
    value["description"]
        .as_str()
        .unwrap_or("")
        .trim()
        .to_owned()
}

/// One documented attribute or nested block, ready to be listed.
struct Entry {
    name: String,
    kind: Kind,
    type_label: String,
    description: String,
    nested: Option<Nested>,
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Required,
    Optional,
    ReadOnly,
}

impl Kind {
    fn of(attr: &Value) -> Kind {
        if attr["required"].as_bool() == Some(true) {
            Kind::Required
        } else if attr["optional"].as_bool() == Some(true) {
            Kind::Optional
        } else if attr["computed"].as_bool() == Some(true) {
            Kind::ReadOnly
        } else {
            Kind::Optional
        }
    }

    fn heading(self) -> &'static str {
        match self {
            Kind::Required => "Required",
            Kind::Optional => "Optional",
            Kind::ReadOnly => "Read-Only",
        }
    }
}

/// What a nested schema section lists.
enum Nested {
    /// Nested attributes (`nested_type`), each with its own flags and description.
    Attributes(Value),
    /// A nested block (`block_types`).
    Block(Value),
    /// The attribute types of an object (no descriptions, all with the parent's kind).
    Object(serde_json::Map<String, Value>, Kind),
}

/// `## Schema` with the top-level lists followed by every nested schema, depth first.
fn schema_section(block: &Value) -> Result<String> {
    let mut out = String::from("<!-- schema generated by the ipai-docs command -->\n## Schema\n\n");
    let mut pending: Vec<(String, Nested)> = Vec::new();
    let entries = block_entries(block, "")?;
    for kind in [Kind::Required, Kind::Optional, Kind::ReadOnly] {
        let listed: Vec<&Entry> = entries.iter().filter(|e| e.kind == kind).collect();
        if listed.is_empty() {
            continue;
        }
        writeln!(out, "### {}\n", kind.heading())?;
        for entry in listed {
            writeln!(out, "{}", entry_line(entry, ""))?;
        }
        out.push('\n');
    }
    collect_nested(entries, "", &mut pending);
    while !pending.is_empty() {
        let (path, nested) = pending.remove(0);
        let anchor = anchor_for(&path, &nested);
        writeln!(
            out,
            "<a id=\"{anchor}\"></a>\n### Nested Schema for `{path}`\n"
        )?;
        let entries = match &nested {
            Nested::Attributes(block) | Nested::Block(block) => block_entries(block, &path)?,
            Nested::Object(types, kind) => object_entries(types, *kind, &path)?,
        };
        for kind in [Kind::Required, Kind::Optional, Kind::ReadOnly] {
            let listed: Vec<&Entry> = entries.iter().filter(|e| e.kind == kind).collect();
            if listed.is_empty() {
                continue;
            }
            writeln!(out, "{}:\n", kind.heading())?;
            for entry in listed {
                writeln!(out, "{}", entry_line(entry, &path))?;
            }
            out.push('\n');
        }
        let mut children = Vec::new();
        collect_nested(entries, &path, &mut children);
        // Depth first: a nested schema's children come right after it.
        for (i, child) in children.into_iter().enumerate() {
            pending.insert(i, child);
        }
    }
    Ok(out)
}

fn collect_nested(entries: Vec<Entry>, parent: &str, into: &mut Vec<(String, Nested)>) {
    for entry in entries {
        if let Some(nested) = entry.nested {
            into.push((join_path(parent, &entry.name), nested));
        }
    }
}

fn join_path(parent: &str, name: &str) -> String {
    if parent.is_empty() {
        name.to_owned()
    } else {
        format!("{parent}.{name}")
    }
}

fn anchor_for(path: &str, nested: &Nested) -> String {
    let prefix = match nested {
        Nested::Block(_) => "nestedblock",
        Nested::Attributes(_) | Nested::Object(..) => "nestedatt",
    };
    format!("{prefix}--{}", path.replace('.', "--"))
}

fn entry_line(entry: &Entry, parent: &str) -> String {
    let mut line = format!("- `{}` ({})", entry.name, entry.type_label);
    if !entry.description.is_empty() {
        line.push(' ');
        line.push_str(&entry.description.replace('\n', " "));
    }
    if let Some(nested) = &entry.nested {
        let anchor = anchor_for(&join_path(parent, &entry.name), nested);
        let _ = write!(line, " (see [below for nested schema](#{anchor}))");
    }
    line
}

fn block_entries(block: &Value, path: &str) -> Result<Vec<Entry>> {
    let mut entries = Vec::new();
    if let Some(attrs) = block["attributes"].as_object() {
        for (name, attr) in attrs {
            entries.push(attribute_entry(name, attr, path)?);
        }
    }
    if let Some(blocks) = block["block_types"].as_object() {
        for (name, nested) in blocks {
            let mode = nested["nesting_mode"].as_str().unwrap_or("single");
            let min = nested["min_items"].as_u64().unwrap_or(0);
            let max = nested["max_items"].as_u64().unwrap_or(0);
            let mut label = match mode {
                "list" => "Block List".to_owned(),
                "set" => "Block Set".to_owned(),
                "map" => "Block Map".to_owned(),
                _ => "Block".to_owned(),
            };
            if max > 0 && mode != "single" {
                let _ = write!(label, ", Max: {max}");
            }
            entries.push(Entry {
                name: name.clone(),
                kind: if min > 0 {
                    Kind::Required
                } else {
                    Kind::Optional
                },
                type_label: label,
                description: description_of(&nested["block"]),
                nested: Some(Nested::Block(nested["block"].clone())),
            });
        }
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(entries)
}

fn attribute_entry(name: &str, attr: &Value, path: &str) -> Result<Entry> {
    let kind = Kind::of(attr);
    let (mut type_label, nested) = if let Some(nested_type) = attr.get("nested_type") {
        let label = match nested_type["nesting_mode"].as_str().unwrap_or("single") {
            "list" => "Attributes List",
            "set" => "Attributes Set",
            "map" => "Attributes Map",
            _ => "Attributes",
        };
        (
            label.to_owned(),
            Some(Nested::Attributes(nested_type.clone())),
        )
    } else {
        let ty = &attr["type"];
        let nested = object_types(ty).map(|types| Nested::Object(types, kind));
        (
            type_label(ty).with_context(|| format!("attribute {}", join_path(path, name)))?,
            nested,
        )
    };
    if attr["sensitive"].as_bool() == Some(true) {
        type_label.push_str(", Sensitive");
    }
    if attr["deprecated"].as_bool() == Some(true) {
        type_label.push_str(", Deprecated");
    }
    Ok(Entry {
        name: name.to_owned(),
        kind,
        type_label,
        description: description_of(attr),
        nested,
    })
}

fn object_entries(
    types: &serde_json::Map<String, Value>,
    kind: Kind,
    path: &str,
) -> Result<Vec<Entry>> {
    let mut entries = Vec::new();
    for (name, ty) in types {
        entries.push(Entry {
            name: name.clone(),
            kind,
            type_label: type_label(ty)
                .with_context(|| format!("attribute {}", join_path(path, name)))?,
            description: String::new(),
            nested: object_types(ty).map(|types| Nested::Object(types, kind)),
        });
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(entries)
}

/// The attribute types of an object type, also inside a list, set or map of objects.
fn object_types(ty: &Value) -> Option<serde_json::Map<String, Value>> {
    let parts = ty.as_array()?;
    match parts.first()?.as_str()? {
        "object" => parts.get(1)?.as_object().cloned(),
        "list" | "set" | "map" => object_types(parts.get(1)?),
        _ => None,
    }
}

/// A cty type in JSON (`"string"`, `["list","string"]`, `["object",{…}]`) as the docs name it.
fn type_label(ty: &Value) -> Result<String> {
    if let Some(primitive) = ty.as_str() {
        return Ok(match primitive {
            "string" => "String",
            "number" => "Number",
            "bool" => "Boolean",
            "dynamic" => "Dynamic",
            other => return Err(anyhow!("unknown primitive type {other:?}")),
        }
        .to_owned());
    }
    let parts = ty.as_array().ok_or_else(|| anyhow!("unknown type {ty}"))?;
    let head = parts.first().and_then(Value::as_str).unwrap_or("");
    let element = || -> Result<String> {
        type_label(
            parts
                .get(1)
                .ok_or_else(|| anyhow!("{head} type without element"))?,
        )
    };
    Ok(match head {
        "list" => format!("List of {}", element()?),
        "set" => format!("Set of {}", element()?),
        "map" => format!("Map of {}", element()?),
        "object" => "Object".to_owned(),
        "tuple" => "Tuple".to_owned(),
        other => return Err(anyhow!("unknown type constructor {other:?}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({
            "provider": {"block": {
                "description": "Configures the provider.",
                "attributes": {
                    "output_dir": {"type": "string", "required": true, "description": "Where files go."},
                    "token": {"type": "string", "optional": true, "sensitive": true, "description": "API token."}
                }
            }},
            "resource_schemas": {
                "ipai_thing": {"block": {
                    "description": "A thing.",
                    "attributes": {
                        "name": {"type": "string", "required": true, "description": "Thing name."},
                        "id": {"type": "string", "computed": true, "description": "Identifier."},
                        "tags": {"type": ["map", "string"], "optional": true, "description": "Tags."},
                        "cluster": {
                            "optional": true, "computed": true, "description": "The cluster.",
                            "nested_type": {"nesting_mode": "single", "attributes": {
                                "size": {"type": "number", "optional": true, "description": "Nodes."},
                                "autoscale": {"optional": true, "description": "Bounds.",
                                    "nested_type": {"nesting_mode": "single", "attributes": {
                                        "min": {"type": "number", "required": true, "description": "Fewest."}
                                    }}}
                            }}
                        },
                        "files": {"type": ["map", "string"], "computed": true, "description": "Hashes."}
                    }
                }}
            },
            "ephemeral_resource_schemas": {
                "ipai_secret": {"block": {
                    "description": "A short-lived secret.",
                    "attributes": {
                        "name": {"type": "string", "required": true, "description": "Secret name."},
                        "value": {"type": "string", "computed": true, "sensitive": true, "description": "The secret."}
                    }
                }}
            }
        })
    }

    fn examples() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("provider")).unwrap();
        std::fs::create_dir_all(dir.path().join("resources/ipai_thing")).unwrap();
        std::fs::write(
            dir.path().join("provider/provider.tf"),
            "provider \"ipai\" {}\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("resources/ipai_thing/resource.tf"),
            "resource \"ipai_thing\" \"x\" {}\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("resources/ipai_thing/import.sh"),
            "terraform import ipai_thing.x x\n",
        )
        .unwrap();
        std::fs::create_dir_all(dir.path().join("ephemeral-resources/ipai_secret")).unwrap();
        std::fs::write(
            dir.path()
                .join("ephemeral-resources/ipai_secret/ephemeral-resource.tf"),
            "ephemeral \"ipai_secret\" \"s\" {}\n",
        )
        .unwrap();
        dir
    }

    #[test]
    fn pages_are_named_like_the_registry_expects() {
        let pages = render(&schema(), examples().path()).unwrap();
        let names: Vec<_> = pages.keys().map(|p| p.display().to_string()).collect();
        assert_eq!(
            names,
            [
                "ephemeral-resources/secret.md",
                "index.md",
                "resources/thing.md"
            ]
        );
    }

    #[test]
    fn ephemeral_resource_page_has_its_example_no_import_and_marks_secrets() {
        let pages = render(&schema(), examples().path()).unwrap();
        let page = &pages[Path::new("ephemeral-resources/secret.md")];
        assert!(
            page.starts_with(
                "---\npage_title: \"ipai_secret Ephemeral Resource - terraform-provider-ipai\"\n"
            ),
            "{page}"
        );
        assert!(page.contains("# ipai_secret (Ephemeral Resource)\n\nA short-lived secret.\n"));
        assert!(page.contains("```terraform\nephemeral \"ipai_secret\" \"s\" {}\n```"));
        assert!(
            page.contains("- `value` (String, Sensitive) The secret."),
            "{page}"
        );
        assert!(!page.contains("## Import"));
    }

    #[test]
    fn resource_page_lists_attributes_by_kind_with_schema_descriptions() {
        let pages = render(&schema(), examples().path()).unwrap();
        let page = &pages[Path::new("resources/thing.md")];
        assert!(page.starts_with(
            "---\npage_title: \"ipai_thing Resource - terraform-provider-ipai\"\nsubcategory: \"\"\ndescription: |-\n  A thing.\n---\n\n# ipai_thing (Resource)\n\nA thing.\n"
        ), "{page}");
        let required = page
            .find("### Required\n\n- `name` (String) Thing name.")
            .unwrap();
        let optional = page.find("### Optional\n\n- `cluster` (Attributes) The cluster. (see [below for nested schema](#nestedatt--cluster))\n- `tags` (Map of String) Tags.").unwrap();
        let read_only = page
            .find("### Read-Only\n\n- `files` (Map of String) Hashes.\n- `id` (String) Identifier.")
            .unwrap();
        assert!(required < optional && optional < read_only, "{page}");
        let cluster = page.find("<a id=\"nestedatt--cluster\"></a>\n### Nested Schema for `cluster`\n\nOptional:\n\n- `autoscale` (Attributes) Bounds. (see [below for nested schema](#nestedatt--cluster--autoscale))\n- `size` (Number) Nodes.").unwrap();
        let autoscale = page.find("### Nested Schema for `cluster.autoscale`\n\nRequired:\n\n- `min` (Number) Fewest.").unwrap();
        assert!(cluster < autoscale, "{page}");
        assert!(
            page.contains(
                "## Example Usage\n\n```terraform\nresource \"ipai_thing\" \"x\" {}\n```"
            )
        );
        assert!(
            page.ends_with("```shell\nterraform import ipai_thing.x x\n```\n"),
            "{page}"
        );
    }

    #[test]
    fn index_marks_sensitive_attributes() {
        let pages = render(&schema(), examples().path()).unwrap();
        let index = &pages[Path::new("index.md")];
        assert!(index.contains("# ipai Provider\n\nConfigures the provider.\n"));
        assert!(
            index.contains("- `token` (String, Sensitive) API token."),
            "{index}"
        );
        assert!(index.contains("- `output_dir` (String) Where files go."));
    }

    #[test]
    fn rendering_is_deterministic() {
        let ex = examples();
        assert_eq!(
            render(&schema(), ex.path()).unwrap(),
            render(&schema(), ex.path()).unwrap()
        );
    }

    #[test]
    fn type_labels_follow_the_registry_wording() {
        assert_eq!(
            type_label(&json!(["list", ["set", "bool"]])).unwrap(),
            "List of Set of Boolean"
        );
        assert_eq!(
            type_label(&json!(["object", {"a": "string"}])).unwrap(),
            "Object"
        );
        assert!(type_label(&json!("banana")).is_err());
    }
}
