//! Terraform schemas derived from JSON Schema (the codegen specs' `schemars` output), so
//! a resource's schema is its spec struct: doc comments become descriptions, fields with a
//! serde default become Optional+Computed (the default is filled in at plan time, so there
//! is no perpetual diff), `Option` fields Optional, the rest Required; nested structs
//! become nested attributes; `x-sensitive: true` marks an attribute sensitive;
//! `x-computed: true` marks an attribute whose default depends on other resources
//! (Optional+Computed without a static default: the resource resolves it at plan).

use std::collections::BTreeSet;

use ipai_codegen::{AttrPath, PathStep};
use serde_json::{Map, Value as Json};

use crate::proto::tfplugin6 as pb;
use crate::value::{Type, Value};

/// The JSON Schema keyword that marks an attribute sensitive:
/// `#[schemars(extend("x-sensitive" = true))]`.
pub const SENSITIVE_KEYWORD: &str = "x-sensitive";

/// The JSON Schema keyword that marks an attribute Optional+Computed whose value the
/// resource resolves at plan when the configuration leaves it null:
/// `#[schemars(extend("x-computed" = true))]` on an `Option` field.
pub const COMPUTED_KEYWORD: &str = "x-computed";

/// The shape of an attribute's value.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// `bool`.
    Bool,
    /// `number` (integers and floats).
    Number,
    /// `string`.
    String,
    /// Any type, decided by the configuration.
    Dynamic,
    /// An ordered list.
    List(Box<Kind>),
    /// A set (`uniqueItems` arrays).
    Set(Box<Kind>),
    /// A map with string keys.
    Map(Box<Kind>),
    /// A struct: its attributes.
    Object(Block),
}

/// One attribute of a block.
#[derive(Debug, Clone, PartialEq)]
pub struct Attribute {
    /// The HCL name (the serde field name).
    pub name: String,
    /// Its shape.
    pub kind: Kind,
    /// The doc comment.
    pub description: String,
    /// Must be set in the configuration.
    pub required: bool,
    /// May be set in the configuration.
    pub optional: bool,
    /// The provider sets it (when the configuration does not).
    pub computed: bool,
    /// Hidden in plan output.
    pub sensitive: bool,
    /// What the provider plans when the configuration leaves it null.
    pub default: Option<Json>,
    /// The resource resolves the value at plan when the configuration leaves it null
    /// ([`COMPUTED_KEYWORD`]).
    pub resolved: bool,
}

impl Attribute {
    /// The description as Terraform shows it (docs, editors): the doc comment, plus the
    /// default when it is a short literal the comment does not already spell out.
    fn documented(&self) -> String {
        let shown = match &self.default {
            Some(d @ (Json::Bool(_) | Json::Number(_))) => d.to_string(),
            Some(Json::String(s)) if !s.is_empty() => format!("{s:?}"),
            Some(Json::Array(items))
                if !items.is_empty() && items.iter().all(|i| i.is_string() || i.is_number()) =>
            {
                Json::Array(items.clone()).to_string().replace(',', ", ")
            }
            _ => return self.description.clone(),
        };
        if self.description.to_lowercase().contains("default") {
            return self.description.clone();
        }
        let sep = if self.description.is_empty() { "" } else { " " };
        format!("{}{sep}Defaults to `{shown}`.", self.description)
    }
}

/// A set of attributes: the resource itself, or a nested object.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Block {
    /// Attributes, in declaration order.
    pub attributes: Vec<Attribute>,
}

/// Why a JSON Schema could not become a Terraform schema (a programming error in a spec).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("schema of {at}: {why}")]
pub struct SchemaError {
    /// Where in the JSON Schema.
    pub at: String,
    /// What is not supported.
    pub why: String,
}

impl Block {
    /// The block of a root JSON Schema (an object with `properties`, `$defs` for nested
    /// structs). Fields with a default are Optional+Computed, unless the default is null.
    pub fn from_json_schema(root: &Json) -> Result<Self, SchemaError> {
        let defs = root
            .get("$defs")
            .or_else(|| root.get("definitions"))
            .and_then(Json::as_object)
            .cloned()
            .unwrap_or_default();
        object_block(root, &defs, "#")
    }

    /// The same attributes, all Computed only: provider-added state such as `id`.
    #[must_use]
    pub fn into_computed(mut self) -> Self {
        for a in &mut self.attributes {
            a.required = false;
            a.optional = false;
            a.computed = true;
            a.default = None;
        }
        self
    }

    /// The attribute called `name`.
    pub fn get(&self, name: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.name == name)
    }

    /// The cty object type of a value of this block.
    pub fn ty(&self) -> Type {
        Type::Object {
            attrs: self
                .attributes
                .iter()
                .map(|a| (a.name.clone(), a.kind.ty()))
                .collect(),
            optional: BTreeSet::new(),
        }
    }

    /// The tfplugin6 schema block.
    pub fn to_proto(&self, description: &str) -> pb::schema::Block {
        pb::schema::Block {
            version: 0,
            attributes: self.attributes.iter().map(Attribute::to_proto).collect(),
            block_types: Vec::new(),
            description: description.to_owned(),
            description_kind: pb::StringKind::Markdown as i32,
            deprecated: false,
        }
    }

    /// `value` with every null attribute that has a default replaced by the default,
    /// recursively through known nested objects; unknown parts stay unknown.
    pub fn fill_defaults(&self, value: Value) -> Value {
        let Value::Object(mut attrs) = value else {
            return value;
        };
        for a in &self.attributes {
            let current = attrs.remove(&a.name).unwrap_or(Value::Null);
            let filled = match (current, &a.default) {
                (Value::Null, Some(d)) if !d.is_null() => {
                    Value::from_json(d, &a.kind.ty()).unwrap_or(Value::Null)
                }
                (v, _) => a.kind.fill_defaults(v),
            };
            attrs.insert(a.name.clone(), filled);
        }
        Value::Object(attrs)
    }

    /// The JSON a spec is deserialized from: null attributes dropped (so serde defaults
    /// apply), recursively, and only the attributes named in `keep` at the top.
    pub fn spec_json(&self, value: &Value, keep: &dyn Fn(&str) -> bool) -> Option<Json> {
        // Filter before converting: the attributes left out may be unknown.
        let json = match value {
            Value::Object(attrs) => Value::Object(
                attrs
                    .iter()
                    .filter(|(k, _)| keep(k))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            )
            .to_json()?,
            other => other.to_json()?,
        };
        Some(strip_nulls(json))
    }

    /// Turns a serde path (`cluster.node_count`, `tags.env`, `subdomains[2]`) into an
    /// attribute path, telling attributes from map keys by the schema.
    pub fn attr_path(&self, path: &serde_path_to_error::Path) -> AttrPath {
        use serde_path_to_error::Segment;
        let mut out = AttrPath::root();
        let mut kind: Option<Kind> = Some(Kind::Object(self.clone()));
        for seg in path.iter() {
            match seg {
                Segment::Seq { index } => {
                    out = out.index(*index);
                    kind = match kind {
                        Some(Kind::List(k) | Kind::Set(k)) => Some(*k),
                        _ => None,
                    };
                }
                Segment::Map { key } => match kind {
                    Some(Kind::Map(k)) => {
                        out = out.key(key.clone());
                        kind = Some(*k);
                    }
                    Some(Kind::Object(b)) => {
                        out = out.at(key.clone());
                        kind = b.get(key).map(|a| a.kind.clone());
                    }
                    _ => {
                        out = out.at(key.clone());
                        kind = None;
                    }
                },
                Segment::Enum { .. } | Segment::Unknown => {}
            }
        }
        out
    }

    /// Attribute paths whose values differ between two objects of this block, limited to
    /// the attributes in `names`: top-level names, or dotted paths into nested objects
    /// (`gpu.node_size`). An unknown planned value (or an unknown object on the way)
    /// counts as a change.
    pub fn changed(&self, prior: &Value, planned: &Value, names: &[&str]) -> Vec<AttrPath> {
        fn at<'a>(mut v: &'a Value, path: &str) -> &'a Value {
            for key in path.split('.') {
                v = match v {
                    Value::Object(m) => m.get(key).unwrap_or(&Value::Null),
                    Value::Unknown => return v,
                    _ => &Value::Null,
                };
            }
            v
        }
        if !matches!((prior, planned), (Value::Object(_), Value::Object(_))) {
            return Vec::new();
        }
        names
            .iter()
            .filter(|name| {
                let after = at(planned, name);
                matches!(after, Value::Unknown) || at(prior, name) != after
            })
            .map(|name| AttrPath(name.split('.').map(|k| PathStep::Attr(k.into())).collect()))
            .collect()
    }
}

impl Kind {
    /// The cty type of a value of this kind.
    pub fn ty(&self) -> Type {
        match self {
            Kind::Bool => Type::Bool,
            Kind::Number => Type::Number,
            Kind::String => Type::String,
            Kind::Dynamic => Type::Dynamic,
            Kind::List(k) => Type::List(Box::new(k.ty())),
            Kind::Set(k) => Type::Set(Box::new(k.ty())),
            Kind::Map(k) => Type::Map(Box::new(k.ty())),
            Kind::Object(b) => b.ty(),
        }
    }

    fn fill_defaults(&self, value: Value) -> Value {
        match (self, value) {
            (Kind::Object(b), v @ Value::Object(_)) => b.fill_defaults(v),
            (Kind::List(k), Value::List(items)) => {
                Value::List(items.into_iter().map(|v| k.fill_defaults(v)).collect())
            }
            (Kind::Set(k), Value::Set(items)) => {
                Value::Set(items.into_iter().map(|v| k.fill_defaults(v)).collect())
            }
            (Kind::Map(k), Value::Map(items)) => Value::Map(
                items
                    .into_iter()
                    .map(|(key, v)| (key, k.fill_defaults(v)))
                    .collect(),
            ),
            (_, v) => v,
        }
    }

    fn nested(&self) -> Option<(&Block, pb::schema::object::NestingMode)> {
        use pb::schema::object::NestingMode;
        match self {
            Kind::Object(b) => Some((b, NestingMode::Single)),
            Kind::List(k) | Kind::Set(k) | Kind::Map(k) => {
                let Kind::Object(b) = k.as_ref() else {
                    return None;
                };
                let mode = match self {
                    Kind::List(_) => NestingMode::List,
                    Kind::Set(_) => NestingMode::Set,
                    _ => NestingMode::Map,
                };
                Some((b, mode))
            }
            _ => None,
        }
    }
}

/// The JSON form of a cty type constraint, as the schema's attribute `type` carries it.
pub fn type_json(ty: &Type) -> Json {
    match ty {
        Type::Bool => "bool".into(),
        Type::Number => "number".into(),
        Type::String => "string".into(),
        Type::Dynamic => "dynamic".into(),
        Type::List(t) => serde_json::json!(["list", type_json(t)]),
        Type::Set(t) => serde_json::json!(["set", type_json(t)]),
        Type::Map(t) => serde_json::json!(["map", type_json(t)]),
        Type::Object { attrs, .. } => serde_json::json!([
            "object",
            attrs
                .iter()
                .map(|(k, t)| (k.clone(), type_json(t)))
                .collect::<Map<_, _>>()
        ]),
        Type::Tuple(ts) => {
            serde_json::json!(["tuple", ts.iter().map(type_json).collect::<Vec<_>>()])
        }
    }
}

impl Attribute {
    /// The tfplugin6 attribute: nested objects (and lists, sets and maps of them) as
    /// nested attributes, everything else with its JSON type.
    pub fn to_proto(&self) -> pb::schema::Attribute {
        let (ty, nested_type) = match self.kind.nested() {
            Some((block, mode)) => (
                Vec::new(),
                Some(pb::schema::Object {
                    attributes: block.attributes.iter().map(Attribute::to_proto).collect(),
                    nesting: mode as i32,
                    ..Default::default()
                }),
            ),
            None => (type_json(&self.kind.ty()).to_string().into_bytes(), None),
        };
        pb::schema::Attribute {
            name: self.name.clone(),
            r#type: ty,
            nested_type,
            description: self.documented(),
            required: self.required,
            optional: self.optional,
            computed: self.computed,
            sensitive: self.sensitive,
            description_kind: pb::StringKind::Markdown as i32,
            deprecated: false,
            write_only: false,
        }
    }
}

fn strip_nulls(json: Json) -> Json {
    match json {
        Json::Object(m) => Json::Object(
            m.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, strip_nulls(v)))
                .collect(),
        ),
        Json::Array(items) => Json::Array(items.into_iter().map(strip_nulls).collect()),
        other => other,
    }
}

fn resolve<'a>(
    schema: &'a Json,
    defs: &'a Map<String, Json>,
    at: &str,
) -> Result<&'a Json, SchemaError> {
    let Some(r) = schema.get("$ref").and_then(Json::as_str) else {
        return Ok(schema);
    };
    let name = r
        .strip_prefix("#/$defs/")
        .or_else(|| r.strip_prefix("#/definitions/"))
        .ok_or_else(|| SchemaError {
            at: at.to_owned(),
            why: format!("unsupported reference {r}"),
        })?;
    defs.get(name).ok_or_else(|| SchemaError {
        at: at.to_owned(),
        why: format!("missing definition {name}"),
    })
}

/// The schema without its `null` alternative, and whether there was one.
fn strip_null(schema: &Json) -> (Json, bool) {
    if let Some(alts) = schema
        .get("anyOf")
        .or_else(|| schema.get("oneOf"))
        .and_then(Json::as_array)
    {
        let non_null: Vec<&Json> = alts
            .iter()
            .filter(|a| a.get("type").and_then(Json::as_str) != Some("null"))
            .collect();
        if non_null.len() == 1 && alts.len() == 2 {
            let mut merged = non_null[0].clone();
            if let (Json::Object(m), Json::Object(outer)) = (&mut merged, schema) {
                for (k, v) in outer {
                    if k != "anyOf" && k != "oneOf" {
                        m.entry(k.clone()).or_insert_with(|| v.clone());
                    }
                }
            }
            return (merged, true);
        }
    }
    if let Some(types) = schema.get("type").and_then(Json::as_array) {
        let non_null: Vec<&Json> = types
            .iter()
            .filter(|t| t.as_str() != Some("null"))
            .collect();
        if non_null.len() == 1 && types.len() == 2 {
            let mut merged = schema.clone();
            merged["type"] = non_null[0].clone();
            return (merged, true);
        }
    }
    (schema.clone(), false)
}

fn kind_of(schema: &Json, defs: &Map<String, Json>, at: &str) -> Result<Kind, SchemaError> {
    let (schema, _) = strip_null(schema);
    let schema = resolve(&schema, defs, at)?.clone();
    let (schema, _) = strip_null(&schema);
    let ty = schema.get("type").and_then(Json::as_str);
    Ok(match ty {
        Some("boolean") => Kind::Bool,
        Some("integer" | "number") => Kind::Number,
        Some("string") => Kind::String,
        Some("array") => {
            let items = schema.get("items").cloned().unwrap_or(Json::Bool(true));
            let item = kind_of(&items, defs, &format!("{at}[]"))?;
            if schema.get("uniqueItems") == Some(&Json::Bool(true)) {
                Kind::Set(Box::new(item))
            } else {
                Kind::List(Box::new(item))
            }
        }
        Some("object") if schema.get("properties").is_some() => {
            Kind::Object(object_block(&schema, defs, at)?)
        }
        Some("object") => {
            let values = schema
                .get("additionalProperties")
                .cloned()
                .unwrap_or(Json::Bool(true));
            Kind::Map(Box::new(kind_of(&values, defs, &format!("{at}{{}}"))?))
        }
        // String enums (`enum` or `oneOf` of `const`s) are strings.
        None if schema
            .get("enum")
            .and_then(Json::as_array)
            .is_some_and(|v| v.iter().all(Json::is_string)) =>
        {
            Kind::String
        }
        None if schema.get("const").is_some_and(Json::is_string) => Kind::String,
        None if schema
            .get("oneOf")
            .and_then(Json::as_array)
            .is_some_and(|alts| {
                alts.iter()
                    .all(|a| a.get("const").is_some_and(Json::is_string) || a.get("enum").is_some())
            }) =>
        {
            Kind::String
        }
        None => Kind::Dynamic,
        Some(other) => {
            return Err(SchemaError {
                at: at.to_owned(),
                why: format!("unsupported type {other}"),
            });
        }
    })
}

fn object_block(schema: &Json, defs: &Map<String, Json>, at: &str) -> Result<Block, SchemaError> {
    let schema = resolve(schema, defs, at)?;
    let required: BTreeSet<&str> = schema
        .get("required")
        .and_then(Json::as_array)
        .map(|r| r.iter().filter_map(Json::as_str).collect())
        .unwrap_or_default();
    let Some(props) = schema.get("properties").and_then(Json::as_object) else {
        return Err(SchemaError {
            at: at.to_owned(),
            why: "not an object with properties".into(),
        });
    };
    let mut attributes = Vec::new();
    for (name, prop) in props {
        let here = format!("{at}.{name}");
        let (stripped, nullable) = strip_null(prop);
        let kind = kind_of(&stripped, defs, &here)?;
        let default = prop.get("default").cloned();
        let description = prop
            .get("description")
            .or_else(|| resolve(&stripped, defs, &here).ok()?.get("description"))
            .and_then(Json::as_str)
            .unwrap_or_default()
            .to_owned();
        let sensitive = prop.get(SENSITIVE_KEYWORD) == Some(&Json::Bool(true));
        let resolved = prop.get(COMPUTED_KEYWORD) == Some(&Json::Bool(true));
        let is_required = required.contains(name.as_str()) && !nullable;
        let has_default = default.as_ref().is_some_and(|d| !d.is_null()) || resolved;
        attributes.push(Attribute {
            name: name.clone(),
            kind,
            description,
            required: is_required && !has_default,
            optional: !is_required || has_default,
            computed: has_default,
            sensitive,
            default: default.filter(|d| !d.is_null()),
            resolved,
        });
    }
    Ok(Block { attributes })
}

/// A resource's or the provider's complete schema: the spec's attributes plus the
/// provider-added computed ones, with the tfplugin6 form and the cty type precomputed.
#[derive(Debug, Clone)]
pub struct Derived {
    /// All attributes, spec first.
    pub block: Block,
    /// Names of the spec's attributes (what is decoded into the spec).
    pub spec_attrs: BTreeSet<String>,
    /// The cty type of the whole object.
    pub ty: Type,
    /// The tfplugin6 schema.
    pub proto: pb::Schema,
}

impl Derived {
    /// Derives the schema of `Spec` plus the computed attributes of `Computed` (pass `()`'s
    /// schema, `None`, when there are none).
    pub fn new(
        spec: &Json,
        computed: Option<&Json>,
        version: i64,
        description: &str,
    ) -> Result<Self, SchemaError> {
        let mut block = Block::from_json_schema(spec)?;
        let spec_attrs: BTreeSet<String> =
            block.attributes.iter().map(|a| a.name.clone()).collect();
        if let Some(c) = computed {
            for a in Block::from_json_schema(c)?.into_computed().attributes {
                if spec_attrs.contains(&a.name) {
                    return Err(SchemaError {
                        at: format!("#.{}", a.name),
                        why: "a computed attribute has the name of a spec attribute".into(),
                    });
                }
                block.attributes.push(a);
            }
        }
        let description = if description.is_empty() {
            spec.get("description")
                .and_then(Json::as_str)
                .unwrap_or_default()
        } else {
            description
        };
        let mut proto_block = block.to_proto(description);
        proto_block.version = version;
        Ok(Self {
            ty: block.ty(),
            proto: pb::Schema {
                version,
                block: Some(proto_block),
            },
            spec_attrs,
            block,
        })
    }
}

impl Derived {
    /// The provider configuration's schema: like a spec's, but a provider block has no
    /// computed attributes, so defaults stay Optional and serde fills them in.
    pub fn provider(spec: &Json, description: &str) -> Result<Self, SchemaError> {
        let mut block = Block::from_json_schema(spec)?;
        clear_computed(&mut block);
        let spec_attrs = block.attributes.iter().map(|a| a.name.clone()).collect();
        Ok(Self {
            ty: block.ty(),
            proto: pb::Schema {
                version: 0,
                block: Some(block.to_proto(description)),
            },
            spec_attrs,
            block,
        })
    }
}

fn clear_computed(block: &mut Block) {
    for a in &mut block.attributes {
        a.computed = false;
        a.default = None;
        if let Kind::Object(b) = &mut a.kind {
            clear_computed(b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    use ipai_codegen::spec::WorkbenchSpec;
    use schemars::JsonSchema;
    use serde::Deserialize;

    fn workbench() -> Block {
        let s = serde_json::to_value(schemars::schema_for!(WorkbenchSpec)).unwrap();
        Block::from_json_schema(&s).unwrap()
    }

    fn flags(a: &Attribute) -> (bool, bool, bool) {
        (a.required, a.optional, a.computed)
    }

    #[test]
    fn required_optional_and_defaulted_fields() {
        let b = workbench();
        let name = b.get("name").unwrap();
        assert_eq!(flags(name), (true, false, false));
        assert!(
            name.description.contains("DNS-1123"),
            "{}",
            name.description
        );
        let region = b.get("region").unwrap();
        assert_eq!(flags(region), (false, true, true));
        assert_eq!(region.default, Some(Json::from("sgp1")));
        // Option without a non-null default: optional, never computed.
        assert_eq!(flags(b.get("supabase").unwrap()), (false, true, false));
        assert_eq!(
            b.get("tags").unwrap().kind,
            Kind::Map(Box::new(Kind::String))
        );
        assert_eq!(
            b.get("subdomains").unwrap().kind,
            Kind::List(Box::new(Kind::String))
        );
    }

    #[test]
    fn descriptions_name_the_default_unless_the_comment_does() {
        let b = workbench();
        let region = b.get("region").unwrap().to_proto();
        assert!(
            region.description.ends_with(" Defaults to `\"sgp1\"`."),
            "{}",
            region.description
        );
        // No default: the doc comment alone.
        let name = b.get("name").unwrap();
        assert_eq!(name.to_proto().description, name.description);
    }

    #[test]
    fn nested_structs_become_nested_attributes() {
        let b = workbench();
        let Kind::Object(cluster) = &b.get("cluster").unwrap().kind else {
            panic!("cluster is not an object");
        };
        assert_eq!(
            flags(cluster.get("node_count").unwrap()),
            (false, true, true)
        );
        assert_eq!(cluster.get("node_count").unwrap().kind, Kind::Number);
        let Kind::Object(autoscale) = &cluster.get("autoscale").unwrap().kind else {
            panic!("autoscale is not an object");
        };
        assert_eq!(flags(autoscale.get("min").unwrap()), (true, false, false));
        let proto = b.get("cluster").unwrap().to_proto();
        let nested = proto.nested_type.unwrap();
        assert_eq!(
            nested.nesting,
            pb::schema::object::NestingMode::Single as i32
        );
        assert!(proto.r#type.is_empty());
        let tags = b.get("tags").unwrap().to_proto();
        assert_eq!(tags.r#type, br#"["map","string"]"#);
    }

    /// A spec exercising what the workbench does not: sets, lists of objects, secrets.
    #[derive(Deserialize, JsonSchema)]
    #[allow(dead_code)]
    struct Other {
        /// The secret.
        #[schemars(extend("x-sensitive" = true))]
        token: Option<String>,
        #[serde(default)]
        members: std::collections::BTreeSet<String>,
        targets: Vec<Target>,
    }

    #[derive(Deserialize, JsonSchema)]
    #[allow(dead_code)]
    struct Target {
        model: String,
        #[serde(default)]
        weight: Option<u32>,
    }

    #[test]
    fn sets_lists_of_objects_and_sensitive_attributes() {
        let s = serde_json::to_value(schemars::schema_for!(Other)).unwrap();
        let b = Block::from_json_schema(&s).unwrap();
        let token = b.get("token").unwrap();
        assert!(token.sensitive);
        assert_eq!(token.description, "The secret.");
        assert!(!b.get("targets").unwrap().sensitive);
        assert_eq!(
            b.get("members").unwrap().kind,
            Kind::Set(Box::new(Kind::String))
        );
        let targets = b.get("targets").unwrap().to_proto().nested_type.unwrap();
        assert_eq!(
            targets.nesting,
            pb::schema::object::NestingMode::List as i32
        );
        assert_eq!(targets.attributes.len(), 2);
    }

    #[test]
    fn defaults_fill_nulls_and_leave_unknowns() {
        let b = workbench();
        let mut attrs: BTreeMap<String, Value> = b
            .attributes
            .iter()
            .map(|a| (a.name.clone(), Value::Null))
            .collect();
        attrs.insert("name".into(), Value::Unknown);
        attrs.insert("domain".into(), Value::String("example.org".into()));
        let filled = b.fill_defaults(Value::Object(attrs));
        assert_eq!(filled.get_attr("name"), Some(&Value::Unknown));
        assert_eq!(
            filled.get_attr("region"),
            Some(&Value::String("sgp1".into()))
        );
        assert_eq!(
            filled.get_attr("domain"),
            Some(&Value::String("example.org".into()))
        );
        assert_eq!(filled.get_attr("supabase"), Some(&Value::Null));
        let cluster = filled.get_attr("cluster").unwrap();
        assert_eq!(
            cluster.get_attr("node_count").and_then(Value::as_i64),
            Some(3)
        );
    }

    #[test]
    fn replacing_attributes_may_be_nested() {
        let b = workbench();
        let obj = |size: Value| {
            let cluster = BTreeMap::from([("node_size".to_owned(), size)]);
            Value::Object(BTreeMap::from([
                ("name".to_owned(), Value::String("a".into())),
                ("cluster".to_owned(), Value::Object(cluster)),
            ]))
        };
        let small = obj(Value::String("s-2vcpu-4gb".into()));
        let names = ["name", "cluster.node_size"];
        assert!(b.changed(&small, &small, &names).is_empty());
        let big = obj(Value::String("s-4vcpu-8gb".into()));
        let nested = AttrPath::attr("cluster").at("node_size");
        assert_eq!(b.changed(&small, &big, &names), vec![nested.clone()]);
        assert_eq!(
            b.changed(&small, &obj(Value::Unknown), &names),
            vec![nested]
        );
        let mut unknown_cluster = small.clone();
        if let Value::Object(m) = &mut unknown_cluster {
            m.insert("cluster".into(), Value::Unknown);
        }
        assert_eq!(b.changed(&small, &unknown_cluster, &names).len(), 1);
    }

    #[test]
    fn serde_paths_become_attribute_paths() {
        let b = workbench();
        let bad = serde_json::json!({"name": "x", "cluster": {"node_count": "many"}});
        let err = serde_path_to_error::deserialize::<_, WorkbenchSpec>(bad).unwrap_err();
        assert_eq!(
            b.attr_path(err.path()),
            AttrPath::attr("cluster").at("node_count")
        );
        let bad = serde_json::json!({"name": "x", "tags": {"env": 1}});
        let err = serde_path_to_error::deserialize::<_, WorkbenchSpec>(bad).unwrap_err();
        assert_eq!(b.attr_path(err.path()), AttrPath::attr("tags").key("env"));
    }
}
