//! Template rendering: the handlebars templates under `templates/` are embedded at build
//! time; a user directory with the same relative names overrides any of them.
//!
//! Templates are strict (a missing variable is an error, never an empty string) and
//! never HTML-escape. SQL templates receive identifiers and literals already quoted by
//! [`crate::sql`] (the planner builds their context). Helpers:
//! - `{{q x}}` — a YAML/JSON double-quoted string (JSON string syntax is valid YAML);
//! - `{{json x}}` — any value as compact JSON (also valid YAML flow syntax).
//!
//! Templates within handlebars' core (text, values, `if`/`unless`/`each`/`with`, static
//! partials: every SQL template) render through [`compiled`], a direct evaluator of the
//! parsed template with the crate's semantics, in about a fifth of the instructions; the
//! others, and any render the evaluator gives up on, go through the crate.

use std::path::Path;

use handlebars::Handlebars;
use include_dir::{Dir, include_dir};
use serde::Serialize;

use crate::{Error, Result};

mod compiled;

static EMBEDDED: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../templates");

/// Renders the project's templates, embedded or overridden.
pub struct Renderer {
    registry: Handlebars<'static>,
    compiled: compiled::Compiled,
}

impl std::fmt::Debug for Renderer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Renderer").finish_non_exhaustive()
    }
}

mod helpers {
    #![allow(missing_docs)]
    use handlebars::handlebars_helper;

    handlebars_helper!(q: |v: Json| match v {
        serde_json::Value::String(s) => serde_json::to_string(s).unwrap_or_default(),
        other => serde_json::to_string(&other.to_string()).unwrap_or_default(),
    });
    handlebars_helper!(json: |v: Json| serde_json::to_string(v).unwrap_or_default());
}

impl Renderer {
    /// The embedded templates only.
    pub fn embedded() -> Result<Self> {
        Self::new(None)
    }

    /// The embedded templates, each overridden by a file of the same relative name under
    /// `override_dir` when there is one (e.g. `kubernetes/namespace.yaml.hbs`).
    pub fn new(override_dir: Option<&Path>) -> Result<Self> {
        let mut registry = Handlebars::new();
        registry.set_strict_mode(true);
        registry.register_escape_fn(handlebars::no_escape);
        registry.register_helper("q", Box::new(helpers::q));
        registry.register_helper("json", Box::new(helpers::json));
        let mut files = Vec::new();
        collect(&EMBEDDED, &mut files);
        for (name, embedded) in files {
            let source = match override_dir.map(|d| d.join(&name)) {
                Some(p) if p.is_file() => {
                    std::fs::read_to_string(&p).map_err(|source| Error::Io {
                        path: p.display().to_string(),
                        source,
                    })?
                }
                _ => embedded.to_owned(),
            };
            let key = name.trim_end_matches(".hbs").to_owned();
            registry
                .register_template_string(&key, source)
                .map_err(|e| Error::Template {
                    name: name.clone(),
                    message: e.to_string(),
                })?;
        }
        let compiled = compiled::Compiled::new(registry.get_templates());
        Ok(Self { registry, compiled })
    }

    /// Renders template `name` (relative to `templates/`, without `.hbs`) with `ctx`.
    pub fn render(&self, name: &str, ctx: &impl Serialize) -> Result<String> {
        let value = serde_json::to_value(ctx).map_err(|e| Error::Template {
            name: name.to_owned(),
            message: e.to_string(),
        })?;
        self.render_context(name, &Context::from(value))
    }

    /// Renders template `name` with a context built beforehand (no serialization or copy:
    /// the hot path of large migrations).
    pub fn render_context(&self, name: &str, ctx: &Context) -> Result<String> {
        match self.compiled.render(name, ctx.data()) {
            Some(Ok(text)) => Ok(text),
            // Not compiled, or the evaluator met what the crate reports as an error: the
            // crate renders it (and words the error).
            _ => self.render_interpreted(name, ctx),
        }
    }

    /// Renders template `name` with the handlebars crate itself, never the compiled
    /// evaluator: tests hold the two byte-identical.
    pub fn render_interpreted(&self, name: &str, ctx: &Context) -> Result<String> {
        self.registry
            .render_with_context(name, &ctx.0)
            .map_err(|e| Error::Template {
                name: name.to_owned(),
                message: e.to_string(),
            })
    }

    /// True when template `name` renders through the compiled evaluator (see the module
    /// documentation).
    pub fn is_compiled(&self, name: &str) -> bool {
        self.compiled.has(name)
    }

    /// Names of every template, sorted.
    pub fn template_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .registry
            .get_templates()
            .keys()
            .map(String::as_str)
            .collect();
        names.sort_unstable();
        names
    }

    /// True when a template of that name exists.
    pub fn has(&self, name: &str) -> bool {
        self.registry.has_template(name)
    }
}

/// A template context in the form handlebars renders from, built once.
#[derive(Debug, Clone)]
pub struct Context(handlebars::Context);

impl Context {
    /// The context's data.
    pub fn data(&self) -> &serde_json::Value {
        self.0.data()
    }
}

impl From<serde_json::Value> for Context {
    fn from(value: serde_json::Value) -> Self {
        Self(handlebars::Context::from(value))
    }
}

impl PartialEq for Context {
    fn eq(&self, other: &Self) -> bool {
        self.data() == other.data()
    }
}

fn collect(dir: &'static Dir<'static>, out: &mut Vec<(String, &'static str)>) {
    for file in dir.files() {
        let name = file.path().to_string_lossy().replace('\\', "/");
        if name.ends_with(".hbs")
            && let Some(text) = file.contents_utf8()
        {
            out.push((name, text));
        }
    }
    for sub in dir.dirs() {
        collect(sub, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_directory_overrides_an_embedded_template() {
        let dir = tempfile::tempdir().unwrap();
        let embedded = Renderer::embedded().unwrap();
        let Some(name) = first_template() else {
            return;
        };
        let path = dir.path().join(format!("{name}.hbs"));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "overridden").unwrap();
        let custom = Renderer::new(Some(dir.path())).unwrap();
        assert!(embedded.has(&name));
        assert_eq!(
            custom.render(&name, &serde_json::json!({})).unwrap(),
            "overridden"
        );
    }

    #[test]
    fn helpers_quote_yaml() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("kubernetes");
        std::fs::create_dir_all(&p).unwrap();
        let mut r = Renderer::new(Some(dir.path())).unwrap();
        r.registry
            .register_template_string("t", "{{q y}} {{q n}} {{json l}}")
            .unwrap();
        let out = r
            .render(
                "t",
                &serde_json::json!({"y": "x: \"y\"", "n": 8080, "l": ["a", 1]}),
            )
            .unwrap();
        assert_eq!(out, r#""x: \"y\"" "8080" ["a",1]"#);
    }

    #[test]
    fn strict_mode_rejects_missing_variables() {
        let mut r = Renderer::embedded().unwrap();
        r.registry
            .register_template_string("t", "{{missing}}")
            .unwrap();
        assert!(r.render("t", &serde_json::json!({})).is_err());
    }

    fn first_template() -> Option<String> {
        let mut files = Vec::new();
        collect(&EMBEDDED, &mut files);
        files
            .first()
            .map(|(n, _)| n.trim_end_matches(".hbs").to_owned())
    }
}
