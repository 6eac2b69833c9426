//! DigitalOcean's OpenAPI 3.0 contract, compiled once per process into JSON Schema validators.
//!
//! The spec is turned into one Draft 4 document: every `#/components/schemas/X` becomes
//! `#/definitions/X`, every operation's request body, response bodies and query parameters become
//! `#/definitions/<kind>__<operationId>...`, and OpenAPI's `nullable: true` becomes a `"null"` member
//! of `type` (and of `enum`). Draft 4 because OpenAPI 3.0 schemas are its dialect (boolean
//! `exclusiveMinimum`, `$ref` siblings ignored).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use jsonschema::{Draft, Registry, Validator};
use serde_json::{Map, Value};

use super::SimError;

/// Environment variable naming the OpenAPI file; see [`spec_path`].
pub const SPEC_ENV: &str = "IPAI_DO_OPENAPI";

const DEFAULT_SPEC: &str = "../shared/contracts/digitalocean/digitalocean-v2.workbench.json";

/// Where the OpenAPI spec is read from: `$IPAI_DO_OPENAPI`, else
/// `../shared/contracts/digitalocean/digitalocean-v2.workbench.json` relative to the repository root.
pub fn spec_path() -> PathBuf {
    match std::env::var_os(SPEC_ENV) {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => {
            // CARGO_MANIFEST_DIR is `<repo>/acceptance-tests`.
            let repo_root = Path::new(env!("CARGO_MANIFEST_DIR"))
                .parent()
                .unwrap_or(Path::new("."));
            repo_root.join(DEFAULT_SPEC)
        }
    }
}

/// Returns the process-wide compiled contract, loading it on first use.
pub(crate) fn contract() -> Result<&'static Contract, SimError> {
    static CONTRACT: OnceLock<Result<Contract, SimError>> = OnceLock::new();
    CONTRACT
        .get_or_init(|| Contract::load(&spec_path()))
        .as_ref()
        .map_err(Clone::clone)
}

/// One segment of a path template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Param(String),
}

/// A query or path parameter of an operation.
#[derive(Debug, Clone)]
pub(crate) struct Param {
    pub(crate) name: String,
    pub(crate) in_query: bool,
    pub(crate) required: bool,
    /// The JSON type the raw string is converted to before validation.
    kind: String,
    key: String,
}

/// A response the operation declares for one status code (or `default`).
#[derive(Debug, Clone, Default)]
struct ResponseSpec {
    /// Media type → definitions key of its schema (None when the media type has no schema).
    media: Vec<(String, Option<String>)>,
}

/// A media type and the definitions key of its schema, if it has one.
type Media = (String, Option<String>);

/// One operation of the spec.
#[derive(Debug, Clone)]
pub(crate) struct Operation {
    pub(crate) method: String,
    pub(crate) template: String,
    pub(crate) operation_id: String,
    segments: Vec<Segment>,
    params: Vec<Param>,
    request: Option<(bool, Vec<Media>)>,
    responses: BTreeMap<String, ResponseSpec>,
}

/// A matched operation plus the path parameters taken from the concrete path.
#[derive(Debug, Clone)]
pub(crate) struct Matched<'c> {
    pub(crate) op: &'c Operation,
    pub(crate) path_params: BTreeMap<String, String>,
}

/// The compiled contract.
pub(crate) struct Contract {
    ops: Vec<Operation>,
    keys: BTreeSet<String>,
    registry: Registry<'static>,
    compiled: Mutex<HashMap<String, Arc<Validator>>>,
}

const DOC_URI: &str = "urn:ipai:digitalocean-contract";

impl std::fmt::Debug for Contract {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Contract")
            .field("operations", &self.ops.len())
            .finish()
    }
}

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

impl Contract {
    /// Reads and compiles the spec at `path`; a missing or unreadable spec is an error.
    pub(crate) fn load(path: &Path) -> Result<Contract, SimError> {
        let text = std::fs::read_to_string(path).map_err(|e| SimError::Spec {
            path: path.to_path_buf(),
            detail: format!(
                "cannot read the DigitalOcean OpenAPI spec ({e}); set {SPEC_ENV} to its path"
            ),
        })?;
        let spec: Value = serde_json::from_str(&text).map_err(|e| SimError::Spec {
            path: path.to_path_buf(),
            detail: format!("not valid JSON: {e}"),
        })?;
        Contract::from_spec(&spec).map_err(|detail| SimError::Spec {
            path: path.to_path_buf(),
            detail,
        })
    }

    fn from_spec(spec: &Value) -> Result<Contract, String> {
        let mut defs = Map::new();
        let schemas = spec
            .pointer("/components/schemas")
            .and_then(Value::as_object)
            .ok_or("no components.schemas")?;
        for (name, schema) in schemas {
            defs.insert(name.clone(), translate(schema));
        }
        let paths = spec
            .get("paths")
            .and_then(Value::as_object)
            .ok_or("no paths")?;
        let mut ops = Vec::new();
        for (template, item) in paths {
            let shared_params = item
                .get("parameters")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for method in METHODS {
                let Some(op) = item.get(method) else { continue };
                let operation_id = op
                    .get("operationId")
                    .and_then(Value::as_str)
                    .ok_or_else(|| format!("{method} {template}: no operationId"))?
                    .to_string();
                let mut params = Vec::new();
                let op_params = op
                    .get("parameters")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                for p in shared_params.iter().chain(op_params.iter()) {
                    let p = resolve(spec, p)?;
                    let name = p.get("name").and_then(Value::as_str).unwrap_or_default();
                    let location = p.get("in").and_then(Value::as_str).unwrap_or_default();
                    if location != "query" && location != "path" {
                        continue;
                    }
                    let schema = p.get("schema").cloned().unwrap_or(Value::Bool(true));
                    let schema = resolve(spec, &schema)?.clone();
                    let kind = schema
                        .get("type")
                        .and_then(Value::as_str)
                        .unwrap_or("string")
                        .to_string();
                    let key = format!("param__{operation_id}__{location}__{name}");
                    defs.insert(key.clone(), translate(&schema));
                    params.push(Param {
                        name: name.to_string(),
                        in_query: location == "query",
                        required: p.get("required").and_then(Value::as_bool).unwrap_or(false),
                        kind,
                        key,
                    });
                }
                let request = match op.get("requestBody") {
                    None => None,
                    Some(body) => {
                        let body = resolve(spec, body)?;
                        let required = body
                            .get("required")
                            .and_then(Value::as_bool)
                            .unwrap_or(false);
                        let mut media = Vec::new();
                        for (mt, content) in body
                            .get("content")
                            .and_then(Value::as_object)
                            .into_iter()
                            .flatten()
                        {
                            let key = content.get("schema").map(|schema| {
                                let key = format!("req__{operation_id}__{}", media.len());
                                defs.insert(key.clone(), translate(schema));
                                key
                            });
                            media.push((mt.clone(), key));
                        }
                        Some((required, media))
                    }
                };
                let mut responses = BTreeMap::new();
                for (code, response) in op
                    .get("responses")
                    .and_then(Value::as_object)
                    .into_iter()
                    .flatten()
                {
                    let response = resolve(spec, response)?;
                    let mut spec_r = ResponseSpec::default();
                    for (mt, content) in response
                        .get("content")
                        .and_then(Value::as_object)
                        .into_iter()
                        .flatten()
                    {
                        let key = content.get("schema").map(|schema| {
                            let key =
                                format!("res__{operation_id}__{code}__{}", spec_r.media.len());
                            defs.insert(key.clone(), translate(schema));
                            key
                        });
                        spec_r.media.push((mt.clone(), key));
                    }
                    responses.insert(code.clone(), spec_r);
                }
                ops.push(Operation {
                    method: method.to_ascii_uppercase(),
                    template: template.clone(),
                    operation_id,
                    segments: split_template(template),
                    params,
                    request,
                    responses,
                });
            }
        }
        let keys: BTreeSet<String> = defs.keys().cloned().collect();
        let document = serde_json::json!({ "definitions": Value::Object(defs) });
        // Validators are compiled per schema on first use: compiling all ~4000 subschemas
        // up front takes seconds in a debug build.
        let registry = Registry::new()
            .draft(Draft::Draft4)
            .add(DOC_URI, document)
            .and_then(|b| b.prepare())
            .map_err(|e| format!("schemas cannot be indexed: {e}"))?;
        Ok(Contract {
            ops,
            keys,
            registry,
            compiled: Mutex::new(HashMap::new()),
        })
    }

    /// Number of operations in the contract.
    pub(crate) fn operation_count(&self) -> usize {
        self.ops.len()
    }

    /// Finds the operation for a method and concrete path; literal segments beat parameters
    /// (`/v2/projects/default` over `/v2/projects/{project_id}`).
    pub(crate) fn match_op(&self, method: &str, path: &str) -> Option<Matched<'_>> {
        let parts: Vec<&str> = path.trim_end_matches('/').split('/').collect();
        let mut best: Option<(usize, Matched<'_>)> = None;
        for op in self.ops.iter().filter(|o| o.method == method) {
            if op.segments.len() != parts.len() {
                continue;
            }
            let mut literals = 0;
            let mut path_params = BTreeMap::new();
            let ok = op.segments.iter().zip(&parts).all(|(seg, part)| match seg {
                Segment::Literal(l) => {
                    literals += 1;
                    l == part
                }
                Segment::Param(name) => {
                    path_params.insert(name.clone(), percent_decode(part));
                    !part.is_empty()
                }
            });
            if ok && best.as_ref().is_none_or(|(n, _)| literals > *n) {
                best = Some((literals, Matched { op, path_params }));
            }
        }
        best.map(|(_, m)| m)
    }

    /// Whether any operation (of any method) has this path, for 405 versus 404.
    pub(crate) fn path_known(&self, path: &str) -> bool {
        METHODS
            .iter()
            .any(|m| self.match_op(&m.to_ascii_uppercase(), path).is_some())
    }

    /// Checks query and path parameters; returns one message per violation.
    pub(crate) fn check_params(&self, m: &Matched<'_>, query: &[(String, String)]) -> Vec<String> {
        let mut errors = Vec::new();
        for p in &m.op.params {
            let raw = if p.in_query {
                query
                    .iter()
                    .find(|(k, _)| k == &p.name)
                    .map(|(_, v)| v.clone())
            } else {
                m.path_params.get(&p.name).cloned()
            };
            let Some(raw) = raw else {
                if p.required {
                    errors.push(format!("missing required parameter `{}`", p.name));
                }
                continue;
            };
            let value = match p.kind.as_str() {
                "integer" => match raw.parse::<i64>() {
                    Ok(n) => Value::from(n),
                    Err(_) => {
                        errors.push(format!("parameter `{}`: {raw:?} is not an integer", p.name));
                        continue;
                    }
                },
                "boolean" => match raw.as_str() {
                    "true" => Value::Bool(true),
                    "false" => Value::Bool(false),
                    _ => {
                        errors.push(format!("parameter `{}`: {raw:?} is not a boolean", p.name));
                        continue;
                    }
                },
                _ => Value::String(raw),
            };
            errors.extend(
                self.validate(&p.key, &value)
                    .into_iter()
                    .map(|e| format!("parameter `{}`: {e}", p.name)),
            );
        }
        errors
    }

    /// Checks a request body (already parsed from JSON when the media type is JSON).
    pub(crate) fn check_request(
        &self,
        m: &Matched<'_>,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Vec<String> {
        let Some((required, media)) = &m.op.request else {
            return Vec::new();
        };
        if body.is_empty() {
            return if *required {
                vec!["a request body is required".to_string()]
            } else {
                Vec::new()
            };
        }
        let mt = content_type
            .map(|c| {
                c.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            })
            .unwrap_or_default();
        let Some((_, key)) = media.iter().find(|(m, _)| *m == mt) else {
            let allowed: Vec<&str> = media.iter().map(|(m, _)| m.as_str()).collect();
            return vec![format!(
                "content type {mt:?} is not one of {allowed:?} (set Content-Type)"
            )];
        };
        let Some(key) = key else { return Vec::new() };
        match serde_json::from_slice::<Value>(body) {
            Ok(value) => self.validate(key, &value),
            Err(e) => vec![format!("body is not valid JSON: {e}")],
        }
    }

    /// Checks a response the simulator is about to send.
    pub(crate) fn check_response(
        &self,
        m: &Matched<'_>,
        status: u16,
        content_type: Option<&str>,
        body: Option<&Value>,
    ) -> Vec<String> {
        let code = status.to_string();
        let Some(spec) =
            m.op.responses
                .get(&code)
                .or_else(|| m.op.responses.get("default"))
        else {
            return vec![format!(
                "status {status} is not declared for this operation"
            )];
        };
        match (body, content_type) {
            (None, _) if spec.media.is_empty() => Vec::new(),
            (None, _) => vec![format!("status {status} must have a body")],
            (Some(_), _) if spec.media.is_empty() => {
                vec![format!("status {status} must not have a body")]
            }
            (Some(value), ct) => {
                let ct = ct.unwrap_or("application/json");
                match spec.media.iter().find(|(mt, _)| mt == ct) {
                    None => vec![format!("content type {ct:?} not declared for {status}")],
                    Some((_, None)) => Vec::new(),
                    Some((_, Some(key))) => self.validate(key, value),
                }
            }
        }
    }

    /// Whether the operation declares a non-JSON body (e.g. kubeconfig YAML) for `status`.
    pub(crate) fn declares_media(&self, m: &Matched<'_>, status: u16, media: &str) -> bool {
        m.op.responses
            .get(&status.to_string())
            .is_some_and(|r| r.media.iter().any(|(mt, _)| mt == media))
    }

    /// The compiled validator for a definitions key, compiling it on first use.
    fn validator(&self, key: &str) -> Result<Arc<Validator>, String> {
        if let Some(v) = self
            .compiled
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
        {
            return Ok(v.clone());
        }
        if !self.keys.contains(key) {
            return Err(format!("internal: no schema {key}"));
        }
        let schema = serde_json::json!({ "$ref": format!("{DOC_URI}{}", pointer(key)) });
        let validator = jsonschema::options()
            .with_draft(Draft::Draft4)
            .with_registry(&self.registry)
            .build(&schema)
            .map(Arc::new)
            .map_err(|e| format!("contract schema {key} does not compile: {e}"))?;
        self.compiled
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key.to_string(), validator.clone());
        Ok(validator)
    }

    /// Compiles every schema of the contract; returns the keys that fail.
    pub(crate) fn compile_all(&self) -> Result<usize, Vec<String>> {
        let failed: Vec<String> = self
            .keys
            .iter()
            .filter_map(|k| self.validator(k).err())
            .collect();
        if failed.is_empty() {
            Ok(self.keys.len())
        } else {
            Err(failed)
        }
    }

    fn validate(&self, key: &str, value: &Value) -> Vec<String> {
        let validator = match self.validator(key) {
            Ok(v) => v,
            Err(e) => return vec![e],
        };
        validator
            .iter_errors(value)
            .map(|e| {
                let at = e.instance_path().to_string();
                let at = if at.is_empty() { "/".to_string() } else { at };
                format!("at {at}: {e}")
            })
            .collect()
    }
}

fn pointer(key: &str) -> String {
    format!(
        "#/definitions/{}",
        key.replace('~', "~0").replace('/', "~1")
    )
}

fn split_template(template: &str) -> Vec<Segment> {
    template
        .trim_end_matches('/')
        .split('/')
        .map(
            |s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) => Segment::Param(name.to_string()),
                None => Segment::Literal(s.to_string()),
            },
        )
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Follows `$ref`s to components (parameters, responses, request bodies) until a concrete object.
fn resolve<'a>(spec: &'a Value, value: &'a Value) -> Result<&'a Value, String> {
    let mut current = value;
    for _ in 0..16 {
        match current.get("$ref").and_then(Value::as_str) {
            Some(r) => {
                let target = r
                    .strip_prefix('#')
                    .and_then(|p| spec.pointer(p))
                    .ok_or_else(|| format!("dangling $ref {r}"))?;
                if r.starts_with("#/components/schemas/") {
                    // Schemas stay references; the validator resolves them.
                    return Ok(current);
                }
                current = target;
            }
            None => return Ok(current),
        }
    }
    Err("$ref chain too deep".to_string())
}

/// OpenAPI 3.0 schema → JSON Schema Draft 4.
fn translate(schema: &Value) -> Value {
    match schema {
        Value::Object(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                match k.as_str() {
                    "$ref" => {
                        let r = v.as_str().unwrap_or_default();
                        let r = r.replace("#/components/schemas/", "#/definitions/");
                        out.insert(k.clone(), Value::String(r));
                    }
                    // Values, not schemas: keep verbatim.
                    "example" | "examples" | "enum" | "default" | "required" => {
                        out.insert(k.clone(), v.clone());
                    }
                    "properties" | "patternProperties" => {
                        let props = v
                            .as_object()
                            .map(|m| {
                                m.iter()
                                    .map(|(pk, pv)| (pk.clone(), translate(pv)))
                                    .collect()
                            })
                            .unwrap_or_default();
                        out.insert(k.clone(), Value::Object(props));
                    }
                    _ => {
                        out.insert(k.clone(), translate(v));
                    }
                }
            }
            if out.get("nullable") == Some(&Value::Bool(true)) {
                out.remove("nullable");
                if let Some(Value::String(t)) = out.get("type").cloned() {
                    out.insert(
                        "type".into(),
                        Value::Array(vec![Value::String(t), "null".into()]),
                    );
                    if let Some(Value::Array(e)) = out.get_mut("enum")
                        && !e.contains(&Value::Null)
                    {
                        e.push(Value::Null);
                    }
                } else {
                    return serde_json::json!({ "anyOf": [{ "type": "null" }, Value::Object(out)] });
                }
            }
            // Draft 4 requires a non-empty `required` array.
            if out
                .get("required")
                .and_then(Value::as_array)
                .is_some_and(Vec::is_empty)
            {
                out.remove("required");
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(translate).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_spec_is_an_error_naming_the_variable() {
        let err = Contract::load(Path::new("/nonexistent/do.json")).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("/nonexistent/do.json"), "{text}");
        assert!(text.contains(SPEC_ENV), "{text}");
    }

    #[test]
    fn nullable_becomes_a_null_type() {
        let s = translate(&serde_json::json!({"type": "string", "nullable": true, "enum": ["a"]}));
        assert_eq!(
            s,
            serde_json::json!({"type": ["string", "null"], "enum": ["a", null]})
        );
    }

    #[test]
    fn template_matching_prefers_literals() {
        let spec = serde_json::json!({
            "components": {"schemas": {}},
            "paths": {
                "/v2/projects/{project_id}": {"get": {"operationId": "byid", "responses": {}}},
                "/v2/projects/default": {"get": {"operationId": "default", "responses": {}}}
            }
        });
        let c = Contract::from_spec(&spec).unwrap();
        assert_eq!(
            c.match_op("GET", "/v2/projects/default")
                .unwrap()
                .op
                .operation_id,
            "default"
        );
        let m = c.match_op("GET", "/v2/projects/abc").unwrap();
        assert_eq!(m.op.operation_id, "byid");
        assert_eq!(m.path_params["project_id"], "abc");
        assert!(c.match_op("POST", "/v2/projects/abc").is_none());
    }
}
