//! cty values without their type, plus path helpers and JSON conversion.

use std::collections::BTreeMap;

use ipai_codegen::{AttrPath, PathStep};
use serde_json::Value as Json;

use super::{Error, Number, Result, Type};

/// A cty value. It does not carry its type: codecs take the [`Type`] alongside.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A null of whatever type is expected.
    Null,
    /// Not known until apply (msgpack extension 0 on the wire).
    Unknown,
    /// A bool.
    Bool(bool),
    /// A number.
    Number(Number),
    /// A string.
    String(String),
    /// A list, in order.
    List(Vec<Value>),
    /// A set, in the order received (Terraform does not require any order).
    Set(Vec<Value>),
    /// A map with string keys.
    Map(BTreeMap<String, Value>),
    /// An object: every attribute of its type, nulls included.
    Object(BTreeMap<String, Value>),
    /// A tuple, one element per element type.
    Tuple(Vec<Value>),
}

impl Value {
    /// True for [`Value::Null`].
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// True for [`Value::Unknown`] (this value itself, not something inside it).
    pub fn is_unknown(&self) -> bool {
        matches!(self, Value::Unknown)
    }

    /// True when no unknown value is anywhere inside.
    pub fn is_fully_known(&self) -> bool {
        match self {
            Value::Unknown => false,
            Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => true,
            Value::List(vs) | Value::Set(vs) | Value::Tuple(vs) => {
                vs.iter().all(Value::is_fully_known)
            }
            Value::Map(m) | Value::Object(m) => m.values().all(Value::is_fully_known),
        }
    }

    /// Attribute `name` of an object.
    pub fn get_attr(&self, name: &str) -> Option<&Value> {
        match self {
            Value::Object(m) => m.get(name),
            _ => None,
        }
    }

    /// Attribute `name` of an object, mutable.
    pub fn get_attr_mut(&mut self, name: &str) -> Option<&mut Value> {
        match self {
            Value::Object(m) => m.get_mut(name),
            _ => None,
        }
    }

    /// Element `i` of a list, set or tuple.
    pub fn get_index(&self, i: usize) -> Option<&Value> {
        match self {
            Value::List(vs) | Value::Set(vs) | Value::Tuple(vs) => vs.get(i),
            _ => None,
        }
    }

    /// Element `key` of a map.
    pub fn get_key(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Map(m) => m.get(key),
            _ => None,
        }
    }

    /// One step down: attribute of an object, element of a list/set/tuple, key of a map.
    pub fn get_step(&self, step: &PathStep) -> Option<&Value> {
        match step {
            PathStep::Attr(name) => self.get_attr(name),
            PathStep::Index(i) => self.get_index(usize::try_from(*i).ok()?),
            PathStep::Key(k) => self.get_key(k),
        }
    }

    /// The value at `path` (the value itself for the empty path).
    pub fn get_path(&self, path: &AttrPath) -> Option<&Value> {
        path.0.iter().try_fold(self, |v, step| v.get_step(step))
    }

    /// Paths of every unknown value inside, in a stable order (the value itself: empty path).
    pub fn unknown_paths(&self) -> Vec<AttrPath> {
        let mut out = Vec::new();
        self.collect_unknown(&mut AttrPath::root(), &mut out);
        out
    }

    fn collect_unknown(&self, at: &mut AttrPath, out: &mut Vec<AttrPath>) {
        let mut visit = |step: PathStep, v: &Value, at: &mut AttrPath| {
            at.0.push(step);
            v.collect_unknown(at, out);
            at.0.pop();
        };
        match self {
            Value::Unknown => out.push(at.clone()),
            Value::List(vs) | Value::Set(vs) | Value::Tuple(vs) => {
                for (i, v) in vs.iter().enumerate() {
                    visit(PathStep::Index(i as u64), v, at);
                }
            }
            Value::Map(m) => {
                for (k, v) in m {
                    visit(PathStep::Key(k.clone()), v, at);
                }
            }
            Value::Object(m) => {
                for (k, v) in m {
                    visit(PathStep::Attr(k.clone()), v, at);
                }
            }
            Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => {}
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The bool, if this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The number, if this is one.
    pub fn as_number(&self) -> Option<&Number> {
        match self {
            Value::Number(n) => Some(n),
            _ => None,
        }
    }

    /// The number as an i64, if this is an integer in range.
    pub fn as_i64(&self) -> Option<i64> {
        self.as_number().and_then(Number::as_i64)
    }

    /// Plain JSON for consumers (e.g. deserialising into a spec with serde): null as `null`,
    /// objects and maps as JSON objects with sorted keys, lists/sets/tuples as arrays.
    /// Numbers JSON cannot hold exactly are rounded to the nearest f64.
    /// `None` if any unknown value is inside.
    pub fn to_json(&self) -> Option<Json> {
        Some(match self {
            Value::Unknown => return None,
            Value::Null => Json::Null,
            Value::Bool(b) => Json::Bool(*b),
            Value::Number(n) => n.to_json_lossy(),
            Value::String(s) => Json::String(s.clone()),
            Value::List(vs) | Value::Set(vs) | Value::Tuple(vs) => {
                Json::Array(vs.iter().map(Value::to_json).collect::<Option<_>>()?)
            }
            Value::Map(m) | Value::Object(m) => Json::Object(
                m.iter()
                    .map(|(k, v)| Some((k.clone(), v.to_json()?)))
                    .collect::<Option<_>>()?,
            ),
        })
    }

    /// Decodes cty's JSON encoding of a value of type `ty` (the state encoding): dynamic values
    /// are `{"value": ..., "type": ...}`, missing object attributes are null, and primitives
    /// convert as cty converts them (`"12"` is a number, `true` a string `"true"`).
    pub fn from_json(v: &Json, ty: &Type) -> Result<Value> {
        super::json::from_json(v, ty)
    }

    /// The inverse of [`Value::to_json`]: like [`Value::from_json`], except that a value of
    /// type `dynamic` is bare JSON, taken as the value it implies (arrays become tuples,
    /// JSON objects become objects). For turning a spec's JSON into attribute values.
    pub fn from_plain_json(v: &Json, ty: &Type) -> Result<Value> {
        super::json::from_plain_json(v, ty)
    }

    /// The type this value has on its own, as used to encode values of the `dynamic` type.
    /// Nulls and unknowns have type `dynamic`; a list, set or map takes the type of its
    /// first element that has one. Fails when elements of a list, set or map differ in type.
    pub fn infer_type(&self) -> Result<Type> {
        Ok(match self {
            Value::Null | Value::Unknown => Type::Dynamic,
            Value::Bool(_) => Type::Bool,
            Value::Number(_) => Type::Number,
            Value::String(_) => Type::String,
            Value::List(vs) => Type::List(Box::new(common_type(
                vs.iter()
                    .enumerate()
                    .map(|(i, v)| (PathStep::Index(i as u64), v)),
            )?)),
            Value::Set(vs) => Type::Set(Box::new(common_type(
                vs.iter()
                    .enumerate()
                    .map(|(i, v)| (PathStep::Index(i as u64), v)),
            )?)),
            Value::Map(m) => Type::Map(Box::new(common_type(
                m.iter().map(|(k, v)| (PathStep::Key(k.clone()), v)),
            )?)),
            Value::Tuple(vs) => Type::Tuple(
                vs.iter()
                    .enumerate()
                    .map(|(i, v)| {
                        v.infer_type()
                            .map_err(|e| e.within(PathStep::Index(i as u64)))
                    })
                    .collect::<Result<_>>()?,
            ),
            Value::Object(m) => Type::object(
                m.iter()
                    .map(|(k, v)| {
                        let t = v
                            .infer_type()
                            .map_err(|e| e.within(PathStep::Attr(k.clone())))?;
                        Ok((k.clone(), t))
                    })
                    .collect::<Result<Vec<_>>>()?,
            ),
        })
    }
}

fn common_type<'a>(items: impl Iterator<Item = (PathStep, &'a Value)>) -> Result<Type> {
    let mut found = Type::Dynamic;
    for (step, v) in items {
        let t = v.infer_type().map_err(|e| e.within(step.clone()))?;
        found = unify(&found, &t).ok_or_else(|| {
            Error::encode(format!(
                "elements of a collection must have one type, found {found} and {t}"
            ))
            .within(step)
        })?;
    }
    Ok(found)
}

/// The one type both inferred types can be, `dynamic` standing for "any" (a null's type).
fn unify(a: &Type, b: &Type) -> Option<Type> {
    Some(match (a, b) {
        (Type::Dynamic, t) | (t, Type::Dynamic) => t.clone(),
        (Type::List(x), Type::List(y)) => Type::List(Box::new(unify(x, y)?)),
        (Type::Set(x), Type::Set(y)) => Type::Set(Box::new(unify(x, y)?)),
        (Type::Map(x), Type::Map(y)) => Type::Map(Box::new(unify(x, y)?)),
        (Type::Tuple(xs), Type::Tuple(ys)) if xs.len() == ys.len() => Type::Tuple(
            xs.iter()
                .zip(ys)
                .map(|(x, y)| unify(x, y))
                .collect::<Option<_>>()?,
        ),
        (Type::Object { attrs: xs, .. }, Type::Object { attrs: ys, .. })
            if xs.keys().eq(ys.keys()) =>
        {
            Type::object(
                xs.iter()
                    .zip(ys.values())
                    .map(|((k, x), y)| Some((k.clone(), unify(x, y)?)))
                    .collect::<Option<Vec<_>>>()?,
            )
        }
        (x, y) if x == y => x.clone(),
        _ => return None,
    })
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::String(s)
    }
}

impl From<Number> for Value {
    fn from(n: Number) -> Value {
        Value::Number(n)
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Value {
        Value::Number(n.into())
    }
}
