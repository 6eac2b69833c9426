//! A direct evaluator for templates that use only handlebars' core: text, `{{path}}`,
//! `{{#if}}`, `{{#unless}}`, `{{#each}}`, `{{#with}}` and static partials.
//!
//! The handlebars crate resolves every expression from the root of the context with
//! allocated paths and hashed helper lookups: thousands of instructions per expression, most
//! of the time of a large migration. The templates are still parsed by the crate; this
//! module walks the parsed tree against the context's JSON with the crate's own semantics
//! (truthiness, value rendering, block and partial scoping, partial indentation, strict
//! mode) and gives up
//! whenever the crate would do something else:
//! - at compile time, a template using anything outside that core (another helper, a
//!   subexpression, a hash, block parameters, decorators, a partial that is missing or
//!   includes itself) is not compiled, and the crate renders it;
//! - at render time, anything the crate reports as an error in strict mode (a missing
//!   value, an `each` or `with` over nothing without `{{else}}`) stops the evaluation and
//!   the crate renders the template again, so the error is the crate's own.
//!
//! Tests hold the output byte-identical to the crate's for every template and context the
//! project renders.

use std::collections::HashMap;

use handlebars::template::{Parameter, TemplateElement};
use handlebars::{JsonRender, JsonTruthy, Path, PathSeg, Template};
use serde_json::Value;

/// Helpers the crate registers by default (with its `string_helpers` feature) plus the
/// project's own. An expression named like a helper calls it, so such a name is never read
/// as a value here.
const HELPER_NAMES: &[&str] = &[
    "if",
    "unless",
    "each",
    "with",
    "lookup",
    "raw",
    "log",
    "eq",
    "ne",
    "gt",
    "gte",
    "lt",
    "lte",
    "and",
    "or",
    "not",
    "len",
    "lowerCamelCase",
    "upperCamelCase",
    "snakeCase",
    "kebabCase",
    "shoutySnakeCase",
    "shoutyKebabCase",
    "titleCase",
    "trainCase",
    "q",
    "json",
];

/// Templates compiled for the evaluator, by registry name.
#[derive(Debug, Default)]
pub(super) struct Compiled {
    /// Each compiled template's nodes; partials refer to others by index.
    bodies: Vec<Vec<Node>>,
    /// Registry name -> index in `bodies`, for the templates that compiled.
    by_name: HashMap<String, usize>,
}

/// Why the evaluator stopped: the crate renders the template instead.
#[derive(Debug)]
pub(super) struct GiveUp;

#[derive(Debug)]
enum Node {
    Text(String),
    Value(PathRef),
    If {
        standalone: bool,
        path: PathRef,
        negate: bool,
        then: Option<Vec<Node>>,
        otherwise: Option<Vec<Node>>,
    },
    With {
        standalone: bool,
        path: PathRef,
        then: Option<Vec<Node>>,
        inverse: Option<Vec<Node>>,
    },
    Each {
        standalone: bool,
        path: PathRef,
        body: Option<Vec<Node>>,
        inverse: Option<Vec<Node>>,
    },
    Partial {
        body: usize,
        /// The whitespace before the tag: every line the partial writes after its first
        /// starts with it.
        indent: Option<String>,
        standalone: bool,
    },
}

#[derive(Debug)]
enum PathRef {
    /// `@index`, `@first`, `@last`, `@key` of the block `level` blocks up.
    Local { level: usize, name: LocalName },
    /// Named segments from the root (`@root.x`) or from the block `up` blocks up.
    Relative {
        root: bool,
        up: usize,
        names: Vec<String>,
    },
}

#[derive(Debug, Clone, Copy)]
enum LocalName {
    Index,
    First,
    Last,
    Key,
}

/// The local variables of a block (`each` sets them; `with` and partials inherit them).
#[derive(Debug, Clone, Copy, Default)]
struct Locals<'a> {
    index: Option<usize>,
    first: Option<bool>,
    last: Option<bool>,
    key: Option<&'a str>,
}

#[derive(Debug, Clone, Copy)]
struct Frame<'a> {
    value: &'a Value,
    locals: Locals<'a>,
}

/// A value found by a path: in the context, or a local variable.
enum Found<'a> {
    Json(&'a Value),
    Index(usize),
    Bool(bool),
    Key(&'a str),
}

/// The output and the crate's indentation state: inside a partial whose tag has
/// whitespace before it, each line written after the first starts with that whitespace.
struct Out<'a> {
    text: String,
    indent: Option<&'a str>,
    indent_before_write: bool,
    trailing_newline: bool,
    content_produced: bool,
}

fn is_newline(c: char) -> bool {
    c == '\n' || c == '\r'
}

impl<'a> Out<'a> {
    fn write(&mut self, v: &str) {
        if v.is_empty() {
            return;
        }
        self.content_produced = true;
        match self.indent {
            None => self.text.push_str(v),
            Some(indent) => {
                if self.indent_before_write && !v.starts_with(is_newline) {
                    self.text.push_str(indent);
                }
                let mut rest = v;
                while let Some(i) = rest.find('\n') {
                    self.text.push_str(&rest[..=i]);
                    rest = &rest[i + 1..];
                    if rest.is_empty() {
                        break;
                    }
                    self.text.push_str(indent);
                }
                self.text.push_str(rest);
            }
        }
        self.trailing_newline = v.ends_with(is_newline);
        self.indent_before_write = self.trailing_newline;
    }

    /// Runs `f` as the crate runs a block helper, keeping the indentation state as it does.
    fn helper<T>(&mut self, standalone: bool, f: impl FnOnce(&mut Self) -> T) -> T {
        let (before, produced) = (self.indent_before_write, self.content_produced);
        self.content_produced = false;
        self.indent_before_write = before || (standalone && self.trailing_newline);
        let r = f(self);
        self.after(before, produced);
        r
    }

    fn after(&mut self, before: bool, produced: bool) {
        if self.content_produced {
            self.indent_before_write = self.trailing_newline;
        } else {
            self.content_produced = produced;
            self.indent_before_write = before;
        }
    }
}

impl Compiled {
    /// Compiles every template of `templates` that stays within the core.
    pub(super) fn new(templates: &HashMap<String, Template>) -> Self {
        let mut c = Compiled::default();
        let mut names: Vec<&String> = templates.keys().collect();
        names.sort();
        for name in names {
            let mut visiting = Vec::new();
            // A template outside the core is simply left to the crate.
            let _ = c.compile_named(name, templates, &mut visiting);
        }
        c
    }

    /// True when `name` renders through the evaluator.
    pub(super) fn has(&self, name: &str) -> bool {
        self.by_name.contains_key(name)
    }

    /// Renders template `name` with `data`; `None` when it is not compiled.
    pub(super) fn render(&self, name: &str, data: &Value) -> Option<Result<String, GiveUp>> {
        let &body = self.by_name.get(name)?;
        let mut out = Out {
            text: String::with_capacity(1024),
            indent: None,
            indent_before_write: false,
            trailing_newline: false,
            content_produced: false,
        };
        let mut frames = Vec::with_capacity(8);
        frames.push(Frame {
            value: data,
            locals: Locals::default(),
        });
        Some(
            self.nodes(&self.bodies[body], &mut frames, &mut out)
                .map(|()| out.text),
        )
    }

    fn compile_named(
        &mut self,
        name: &str,
        templates: &HashMap<String, Template>,
        visiting: &mut Vec<String>,
    ) -> Result<usize, GiveUp> {
        if let Some(&i) = self.by_name.get(name) {
            return Ok(i);
        }
        // The crate refuses a template that includes itself; any cycle is left to it.
        if visiting.iter().any(|v| v == name) {
            return Err(GiveUp);
        }
        let template = templates.get(name).ok_or(GiveUp)?;
        visiting.push(name.to_owned());
        let body = self.compile(template, templates, visiting);
        visiting.pop();
        let body = body?;
        self.bodies.push(body);
        let i = self.bodies.len() - 1;
        self.by_name.insert(name.to_owned(), i);
        Ok(i)
    }

    fn compile(
        &mut self,
        t: &Template,
        templates: &HashMap<String, Template>,
        visiting: &mut Vec<String>,
    ) -> Result<Vec<Node>, GiveUp> {
        let mut out = Vec::with_capacity(t.elements.len());
        for e in &t.elements {
            match e {
                TemplateElement::RawString(s) => out.push(Node::Text(s.clone())),
                TemplateElement::Comment(_) => {}
                TemplateElement::Expression(h) | TemplateElement::HtmlExpression(h) => {
                    if !h.params.is_empty() || !h.hash.is_empty() || h.block_param.is_some() {
                        return Err(GiveUp);
                    }
                    let Parameter::Path(p) = &h.name else {
                        return Err(GiveUp);
                    };
                    if let Path::Relative((_, raw)) = p
                        && HELPER_NAMES.contains(&raw.as_str())
                    {
                        return Err(GiveUp);
                    }
                    out.push(Node::Value(path_ref(p)?));
                }
                TemplateElement::HelperBlock(h) => {
                    let name = match &h.name {
                        Parameter::Name(n) => n.as_str(),
                        _ => return Err(GiveUp),
                    };
                    if h.chain || !h.hash.is_empty() || h.block_param.is_some() {
                        return Err(GiveUp);
                    }
                    let [Parameter::Path(p)] = h.params.as_slice() else {
                        return Err(GiveUp);
                    };
                    let path = path_ref(p)?;
                    let standalone = standalone(&**h)?;
                    let mut sub = |t: &Option<Template>| -> Result<Option<Vec<Node>>, GiveUp> {
                        t.as_ref()
                            .map(|t| self.compile(t, templates, visiting))
                            .transpose()
                    };
                    let (then, inverse) = (sub(&h.template)?, sub(&h.inverse)?);
                    out.push(match name {
                        "if" | "unless" => Node::If {
                            standalone,
                            path,
                            negate: name == "unless",
                            then,
                            otherwise: inverse,
                        },
                        // A block over a local variable holds a copy of it; not supported.
                        "with" if matches!(path, PathRef::Relative { .. }) => Node::With {
                            standalone,
                            path,
                            then,
                            inverse,
                        },
                        "each" if matches!(path, PathRef::Relative { .. }) => Node::Each {
                            standalone,
                            path,
                            body: then,
                            inverse,
                        },
                        _ => return Err(GiveUp),
                    });
                }
                TemplateElement::PartialExpression(d) => {
                    if !d.params.is_empty() || !d.hash.is_empty() || d.template.is_some() {
                        return Err(GiveUp);
                    }
                    let name = match &d.name {
                        Parameter::Name(n) => n.clone(),
                        Parameter::Path(Path::Relative((_, raw))) => raw.clone(),
                        _ => return Err(GiveUp),
                    };
                    let standalone = standalone(&**d)?;
                    out.push(Node::Partial {
                        body: self.compile_named(&name, templates, visiting)?,
                        indent: d.indent.clone(),
                        standalone,
                    });
                }
                _ => return Err(GiveUp),
            }
        }
        Ok(out)
    }

    fn nodes<'a>(
        &'a self,
        nodes: &'a [Node],
        frames: &mut Vec<Frame<'a>>,
        out: &mut Out<'a>,
    ) -> Result<(), GiveUp> {
        for n in nodes {
            self.node(n, frames, out)?;
        }
        Ok(())
    }

    fn block<'a>(
        &'a self,
        nodes: &'a Option<Vec<Node>>,
        frames: &mut Vec<Frame<'a>>,
        out: &mut Out<'a>,
    ) -> Result<(), GiveUp> {
        nodes
            .as_ref()
            .map_or(Ok(()), |t| self.nodes(t, frames, out))
    }

    fn node<'a>(
        &'a self,
        n: &'a Node,
        frames: &mut Vec<Frame<'a>>,
        out: &mut Out<'a>,
    ) -> Result<(), GiveUp> {
        match n {
            Node::Text(s) => out.write(s),
            Node::Value(p) => match lookup(p, frames)? {
                // Strict mode: a missing value is an error.
                None => return Err(GiveUp),
                Some(Found::Json(Value::String(s))) => out.write(s),
                Some(Found::Json(v)) => out.write(&v.render()),
                Some(Found::Index(i)) => out.write(&i.to_string()),
                Some(Found::Bool(b)) => out.write(if b { "true" } else { "false" }),
                Some(Found::Key(k)) => out.write(k),
            },
            Node::If {
                standalone,
                path,
                negate,
                then,
                otherwise,
            } => {
                let truthy = match lookup(path, frames)? {
                    None => false,
                    Some(Found::Json(v)) => v.is_truthy(false),
                    // Numbers are truthy when non-zero (the crate's default, no includeZero).
                    Some(Found::Index(i)) => i != 0,
                    Some(Found::Bool(b)) => b,
                    Some(Found::Key(k)) => !k.is_empty(),
                };
                let t = if truthy != *negate { then } else { otherwise };
                out.helper(*standalone, |out| self.block(t, frames, out))?;
            }
            Node::With {
                standalone,
                path,
                then,
                inverse,
            } => {
                let found = lookup(path, frames)?;
                out.helper(*standalone, |out| match found {
                    Some(Found::Json(v)) if v.is_truthy(false) => {
                        let locals = current(frames).locals;
                        then.as_ref().map_or(Ok(()), |t| {
                            self.scoped(t, Frame { value: v, locals }, frames, out)
                        })
                    }
                    _ => self.inverse(inverse, frames, out),
                })?;
            }
            Node::Each {
                standalone,
                path,
                body,
                inverse,
            } => {
                let Some(body) = body else {
                    return Ok(());
                };
                let found = lookup(path, frames)?;
                out.helper(*standalone, |out| match found {
                    Some(Found::Json(Value::Array(list)))
                        if !list.is_empty() || inverse.is_none() =>
                    {
                        let len = list.len();
                        for (i, v) in list.iter().enumerate() {
                            let locals = Locals {
                                index: Some(i),
                                first: Some(i == 0),
                                last: Some(i + 1 == len),
                                key: None,
                            };
                            self.scoped(body, Frame { value: v, locals }, frames, out)?;
                        }
                        Ok(())
                    }
                    Some(Found::Json(Value::Object(map)))
                        if !map.is_empty() || inverse.is_none() =>
                    {
                        let len = map.len();
                        for (i, (k, v)) in map.iter().enumerate() {
                            let locals = Locals {
                                index: Some(i),
                                first: Some(i == 0),
                                last: Some(i + 1 == len),
                                key: Some(k),
                            };
                            self.scoped(body, Frame { value: v, locals }, frames, out)?;
                        }
                        Ok(())
                    }
                    _ => self.inverse(inverse, frames, out),
                })?;
            }
            Node::Partial {
                body,
                indent,
                standalone,
            } => {
                let (before, produced) = (out.indent_before_write, out.content_produced);
                out.indent_before_write = *standalone && (out.trailing_newline || indent.is_some());
                out.content_produced = false;
                // A partial renders in a block of its own over the same value, inheriting
                // the local variables, with its tag's indentation instead of the outer one.
                let outer_indent = std::mem::replace(&mut out.indent, indent.as_deref());
                let r = self.scoped(&self.bodies[*body], current(frames), frames, out);
                out.indent = outer_indent;
                r?;
                out.after(before, produced);
            }
        }
        Ok(())
    }

    /// `body` in a block of its own (an `each` element, a `with`, a partial).
    fn scoped<'a>(
        &'a self,
        body: &'a [Node],
        frame: Frame<'a>,
        frames: &mut Vec<Frame<'a>>,
        out: &mut Out<'a>,
    ) -> Result<(), GiveUp> {
        frames.push(frame);
        let r = self.nodes(body, frames, out);
        frames.pop();
        r
    }

    /// The `{{else}}` of an `each` or `with` over nothing; without one, strict mode fails.
    fn inverse<'a>(
        &'a self,
        inverse: &'a Option<Vec<Node>>,
        frames: &mut Vec<Frame<'a>>,
        out: &mut Out<'a>,
    ) -> Result<(), GiveUp> {
        match inverse {
            Some(t) => self.nodes(t, frames, out),
            None => Err(GiveUp),
        }
    }
}

/// Whether the crate parsed a tag as standalone (alone on its line), which decides where it
/// indents. The flag is private to the crate; its derived `Debug` prints it last.
fn standalone(tag: &impl std::fmt::Debug) -> Result<bool, GiveUp> {
    let text = format!("{tag:?}");
    if text.ends_with("indent_before_write: true }") {
        Ok(true)
    } else if text.ends_with("indent_before_write: false }") {
        Ok(false)
    } else {
        Err(GiveUp)
    }
}

/// The innermost block.
fn current<'a>(frames: &[Frame<'a>]) -> Frame<'a> {
    frames[frames.len() - 1]
}

/// Resolves a path as the crate does: `None` when missing.
fn lookup<'a>(p: &PathRef, frames: &[Frame<'a>]) -> Result<Option<Found<'a>>, GiveUp> {
    match p {
        PathRef::Local { level, name } => {
            let Some(f) = frames.len().checked_sub(level + 1).map(|i| &frames[i]) else {
                return Ok(None);
            };
            let l = f.locals;
            Ok(match name {
                LocalName::Index => l.index.map(Found::Index),
                LocalName::First => l.first.map(Found::Bool),
                LocalName::Last => l.last.map(Found::Bool),
                LocalName::Key => l.key.map(Found::Key),
            })
        }
        PathRef::Relative { root, up, names } => {
            let base = if *up > 0 {
                // `../` past the outermost block stays in the innermost one, as in the crate.
                frames
                    .len()
                    .checked_sub(up + 1)
                    .map_or(current(frames).value, |i| frames[i].value)
            } else if *root {
                frames[0].value
            } else {
                current(frames).value
            };
            let mut v = Some(base);
            for n in names {
                v = match v {
                    Some(Value::Object(m)) => field(m, n),
                    // The crate fails on an array index that is not a number.
                    Some(Value::Array(l)) => l.get(n.parse::<usize>().map_err(|_| GiveUp)?),
                    _ => None,
                };
            }
            Ok(v.map(Found::Json))
        }
    }
}

/// `m[key]`. Context objects hold a handful of keys: comparing them costs less than
/// hashing the key (the map's hasher is SipHash).
fn field<'a>(m: &'a serde_json::Map<String, Value>, key: &str) -> Option<&'a Value> {
    if m.len() <= 8 {
        m.iter().find_map(|(k, v)| (k == key).then_some(v))
    } else {
        m.get(key)
    }
}

/// A path of the crate's parse, within what the evaluator reads the same way.
fn path_ref(p: &Path) -> Result<PathRef, GiveUp> {
    match p {
        Path::Local((level, name, _)) => Ok(PathRef::Local {
            level: *level,
            name: match name.as_str() {
                "index" => LocalName::Index,
                "first" => LocalName::First,
                "last" => LocalName::Last,
                "key" => LocalName::Key,
                _ => return Err(GiveUp),
            },
        }),
        Path::Relative((segs, _)) => {
            let (mut root, mut up, mut names, mut leading) = (false, 0, Vec::new(), true);
            for s in segs {
                match s {
                    PathSeg::Named(n) => {
                        leading = false;
                        names.push(n.clone());
                    }
                    // The grammar's rules are private; their names are what the crate prints.
                    PathSeg::Ruled(rule) => match format!("{rule:?}").as_str() {
                        "path_up" if leading && !root => up += 1,
                        "path_root" if leading && !root && up == 0 => root = true,
                        _ => return Err(GiveUp),
                    },
                    _ => return Err(GiveUp),
                }
            }
            Ok(PathRef::Relative { root, up, names })
        }
    }
}

#[cfg(test)]
mod tests {
    use handlebars::Handlebars;
    use serde_json::json;

    use super::*;

    /// A registry set up as the renderer's, with `templates` (the first is rendered).
    fn registry(templates: &[(&str, &str)]) -> Handlebars<'static> {
        let mut h = Handlebars::new();
        h.set_strict_mode(true);
        h.register_escape_fn(handlebars::no_escape);
        for (name, source) in templates {
            h.register_template_string(name, source).unwrap();
        }
        h
    }

    /// Template `t` compiles and renders `data` exactly as the crate does; where the crate
    /// fails, the evaluator gives up.
    fn same(templates: &[(&str, &str)], data: Value) {
        let h = registry(templates);
        let c = Compiled::new(h.get_templates());
        let name = templates[0].0;
        assert!(c.has(name), "{name} is not compiled");
        let ours = c.render(name, &data).unwrap();
        match h.render(name, &data) {
            Ok(theirs) => assert_eq!(ours.ok().as_deref(), Some(theirs.as_str()), "{data}"),
            Err(e) => assert!(
                ours.is_err(),
                "the crate fails ({e}), the evaluator did not"
            ),
        }
    }

    fn data() -> Value {
        json!({
            "s": "text", "e": "", "n": 0, "m": 2.5, "b": true, "f": false, "z": null,
            "a": [{"s": "one", "v": "x"}, {"s": "two", "v": ""}, {"s": "three", "v": "z"}],
            "o": {"k1": "v1", "k2": {"deep": "d"}},
            "empty": [], "none": {}, "odd key": "spaced",
            "ml": "first\nsecond\n  third", "nl": "ends\n",
        })
    }

    #[test]
    fn values_and_paths_render_as_the_crate_renders_them() {
        same(
            &[(
                "t",
                "{{s}}|{{e}}|{{n}}|{{m}}|{{b}}|{{f}}|{{z}}|{{a.0.s}}|{{o.k2.deep}}|{{this.s}}|\
                 {{./s}}|{{@root.s}}|{{[odd key]}}|{{{s}}}|{{o}}|{{empty}}",
            )],
            data(),
        );
    }

    #[test]
    fn blocks_scope_and_locals_as_the_crate_does() {
        same(
            &[(
                "t",
                "{{#each a}}[{{@index}}{{#if @first}}F{{/if}}{{#if @last}}L{{/if}}{{#if @index}}I{{/if}} \
                 {{s}} {{../s}} {{@root.o.k1}}{{#if v}}+{{v}}{{else}}-{{/if}}\
                 {{#with ../o}}{{k1}}@{{@index}}{{../s}}{{/with}}]{{/each}}\
                 {{#each o}}<{{@key}}={{@index}}{{#unless @last}},{{/unless}}>{{/each}}\
                 {{#each empty}}x{{/each}}{{#each empty}}x{{else}}no items{{/each}}\
                 {{#each missing}}x{{else}}no list{{/each}}{{#with missing}}x{{else}}no value{{/with}}\
                 {{#with n}}x{{else}}zero{{/with}}{{#with e}}x{{else}}blank{{/with}}\
                 {{#if missing}}x{{else}}absent{{/if}}{{#unless b}}x{{else}}true{{/unless}}\
                 {{#if none}}x{{else}}empty object{{/if}}{{#if m}}m{{/if}}{{#with o.k2}}{{deep}}{{/with}}\
                 {{~#if s~}} trimmed {{~/if~}} {{#if s}}\n  kept\n{{~/if}}",
            )],
            data(),
        );
    }

    #[test]
    fn partials_inherit_the_block_and_indent_their_lines() {
        let partial = (
            "p",
            "{{s}}:{{@index}}:{{../s}}:{{ml}}\n{{#if v}}\nv={{v}}\n{{/if}}\nend",
        );
        // Indented and standalone, indented inline, and without indentation.
        same(
            &[
                ("t", "list:\n{{#each a}}\n    {{> p}}\n{{/each}}\ndone\n"),
                partial,
            ],
            json!({"s": "top", "ml": "m1\nm2", "a": [{"s": "one", "v": "x", "ml": "a\nb\n"}, {"s": "two", "v": ""}]}),
        );
        same(
            &[("t", "{{#each a}}  x {{> p}} y\n{{/each}}"), partial],
            json!({"s": "top", "ml": "m1\nm2", "a": [{"s": "one", "v": "x", "ml": "a\nb"}, {"s": "two", "v": "", "ml": ""}]}),
        );
        same(
            &[
                ("t", "{{#with o}}{{> q}}{{/with}}"),
                ("q", "{{k1}}\n{{#each ../a}}{{s}}\n{{/each}}"),
            ],
            data(),
        );
    }

    #[test]
    fn what_the_crate_refuses_in_strict_mode_is_given_up() {
        for source in [
            "{{missing}}",
            "{{o.k2.missing}}",
            "{{#each missing}}x{{/each}}",
            "{{#each s}}x{{/each}}",
            "{{#with missing}}x{{/with}}",
            "{{#with f}}x{{/with}}",
            "{{a.first}}",
        ] {
            same(&[("t", source)], data());
        }
    }

    #[test]
    fn templates_beyond_the_core_are_left_to_the_crate() {
        for source in [
            "{{q s}}",
            "{{json}}",
            "{{len a}}",
            "{{#if (eq s \"text\")}}x{{/if}}",
            "{{#if n includeZero=true}}x{{/if}}",
            "{{#each a as |item|}}{{item.s}}{{/each}}",
            "{{#*inline \"i\"}}x{{/inline}}{{> i}}",
            "{{> p s=1}}",
            "{{> p o}}",
            "{{> missing}}",
            "{{> t}}",
            "{{#if a}}x{{else if b}}y{{/if}}",
            "{{lookup a 0}}",
        ] {
            let h = registry(&[("t", source), ("p", "{{s}}")]);
            assert!(!Compiled::new(h.get_templates()).has("t"), "{source}");
        }
        // A template including one beyond the core is left to the crate as well.
        let h = registry(&[("t", "{{> p}}"), ("p", "{{q s}}")]);
        assert!(!Compiled::new(h.get_templates()).has("t"));
    }
}
