//! cty types and Terraform's JSON type syntax.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde_json::{Value as Json, json};

use super::{Error, Result};

/// A cty type, as Terraform describes attributes in a schema.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Type {
    /// `"bool"`.
    Bool,
    /// `"number"`: arbitrary precision in cty; see [`super::Number`].
    Number,
    /// `"string"`.
    String,
    /// `"dynamic"` (cty's DynamicPseudoType): any type, carried alongside the value on the wire.
    Dynamic,
    /// `["list", T]`.
    List(Box<Type>),
    /// `["set", T]`.
    Set(Box<Type>),
    /// `["map", T]`: string keys.
    Map(Box<Type>),
    /// `["object", {name: T, ...}]`, optionally `["object", {...}, [optional names]]`.
    Object {
        /// Every attribute with its type.
        attrs: BTreeMap<String, Type>,
        /// The attributes that may be omitted in a type conversion (a subset of `attrs`).
        optional: BTreeSet<String>,
    },
    /// `["tuple", [T, ...]]`.
    Tuple(Vec<Type>),
}

impl Type {
    /// An object type without optional attributes.
    pub fn object<K: Into<String>>(attrs: impl IntoIterator<Item = (K, Type)>) -> Type {
        Type::Object {
            attrs: attrs.into_iter().map(|(k, t)| (k.into(), t)).collect(),
            optional: BTreeSet::new(),
        }
    }

    /// `list(element)`.
    pub fn list(element: Type) -> Type {
        Type::List(Box::new(element))
    }

    /// `set(element)`.
    pub fn set(element: Type) -> Type {
        Type::Set(Box::new(element))
    }

    /// `map(element)`.
    pub fn map(element: Type) -> Type {
        Type::Map(Box::new(element))
    }

    /// Parses Terraform's JSON type syntax (`"string"`, `["list","string"]`, ...).
    pub fn from_json(v: &Json) -> Result<Type> {
        match v {
            Json::String(s) => match s.as_str() {
                "bool" => Ok(Type::Bool),
                "number" => Ok(Type::Number),
                "string" => Ok(Type::String),
                "dynamic" => Ok(Type::Dynamic),
                _ => Err(Error::invalid_type(v, "unknown primitive type")),
            },
            Json::Array(items) => {
                let kind = items.first().and_then(Json::as_str).ok_or_else(|| {
                    Error::invalid_type(v, "a complex type starts with its kind name")
                })?;
                match (kind, items.len()) {
                    ("list", 2) => Ok(Type::list(Type::from_json(&items[1])?)),
                    ("set", 2) => Ok(Type::set(Type::from_json(&items[1])?)),
                    ("map", 2) => Ok(Type::map(Type::from_json(&items[1])?)),
                    ("tuple", 2) => {
                        let elems = items[1].as_array().ok_or_else(|| {
                            Error::invalid_type(v, "tuple element types must be an array")
                        })?;
                        Ok(Type::Tuple(
                            elems.iter().map(Type::from_json).collect::<Result<_>>()?,
                        ))
                    }
                    ("object", 2 | 3) => object_from_json(v, items),
                    ("list" | "set" | "map" | "tuple" | "object", _) => {
                        Err(Error::invalid_type(v, "wrong number of elements"))
                    }
                    _ => Err(Error::invalid_type(v, "unknown type kind")),
                }
            }
            _ => Err(Error::invalid_type(v, "expected a string or an array")),
        }
    }

    /// Parses Terraform's JSON type syntax from bytes (as in a tfplugin6 schema attribute).
    pub fn from_json_bytes(bytes: &[u8]) -> Result<Type> {
        let v: Json = serde_json::from_slice(bytes).map_err(|e| Error::InvalidType {
            found: String::from_utf8_lossy(bytes).into_owned(),
            detail: e.to_string(),
        })?;
        Type::from_json(&v)
    }

    /// Terraform's JSON type syntax; object attributes and optional names sorted.
    pub fn to_json(&self) -> Json {
        match self {
            Type::Bool => json!("bool"),
            Type::Number => json!("number"),
            Type::String => json!("string"),
            Type::Dynamic => json!("dynamic"),
            Type::List(t) => json!(["list", t.to_json()]),
            Type::Set(t) => json!(["set", t.to_json()]),
            Type::Map(t) => json!(["map", t.to_json()]),
            Type::Tuple(ts) => json!(["tuple", ts.iter().map(Type::to_json).collect::<Vec<_>>()]),
            Type::Object { attrs, optional } => {
                let attrs: serde_json::Map<String, Json> = attrs
                    .iter()
                    .map(|(k, t)| (k.clone(), t.to_json()))
                    .collect();
                if optional.is_empty() {
                    json!(["object", attrs])
                } else {
                    json!(["object", attrs, optional.iter().collect::<Vec<_>>()])
                }
            }
        }
    }

    /// [`Type::to_json`] as compact bytes.
    pub fn to_json_bytes(&self) -> Vec<u8> {
        self.to_json().to_string().into_bytes()
    }

    /// The type of attribute `name` of an object type.
    pub fn attr_type(&self, name: &str) -> Option<&Type> {
        match self {
            Type::Object { attrs, .. } => attrs.get(name),
            _ => None,
        }
    }

    /// The element type of a list, set or map type.
    pub fn element_type(&self) -> Option<&Type> {
        match self {
            Type::List(t) | Type::Set(t) | Type::Map(t) => Some(t),
            _ => None,
        }
    }
}

fn object_from_json(v: &Json, items: &[Json]) -> Result<Type> {
    let attrs = items[1]
        .as_object()
        .ok_or_else(|| Error::invalid_type(v, "object attribute types must be a JSON object"))?
        .iter()
        .map(|(k, t)| Ok((k.clone(), Type::from_json(t)?)))
        .collect::<Result<BTreeMap<_, _>>>()?;
    let mut optional = BTreeSet::new();
    if let Some(names) = items.get(2) {
        let names = names
            .as_array()
            .ok_or_else(|| Error::invalid_type(v, "optional attributes must be an array"))?;
        for name in names {
            let name = name
                .as_str()
                .ok_or_else(|| Error::invalid_type(v, "optional attribute names are strings"))?;
            if !attrs.contains_key(name) {
                return Err(Error::invalid_type(
                    v,
                    format!("optional attribute {name:?} is not an attribute of the object"),
                ));
            }
            optional.insert(name.to_owned());
        }
    }
    Ok(Type::Object { attrs, optional })
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_json())
    }
}
