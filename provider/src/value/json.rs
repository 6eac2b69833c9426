//! cty's JSON encoding, as Terraform stores state (`UpgradeResourceState.raw_state.json`).
//!
//! Plain JSON following the type; a value of type `dynamic` is wrapped as
//! `{"value": ..., "type": ...}`. Unknown values cannot appear in JSON.

use std::collections::BTreeMap;

use ipai_codegen::PathStep;
use serde_json::{Value as Json, json};

use super::{Error, Number, Result, Type, Value};

/// Decodes JSON state bytes holding a value of type `ty`.
pub fn decode(bytes: &[u8], ty: &Type) -> Result<Value> {
    let v: Json =
        serde_json::from_slice(bytes).map_err(|e| Error::decode(format!("invalid JSON: {e}")))?;
    from_json(&v, ty)
}

/// Encodes `v` of type `ty` as cty JSON, losslessly (numbers JSON cannot hold exactly are
/// written as strings holding the decimal, which cty reads back as numbers).
/// Fails on unknown values and on values that do not conform to `ty`.
pub fn encode(v: &Value, ty: &Type) -> Result<Vec<u8>> {
    Ok(to_json(v, ty)?.to_string().into_bytes())
}

/// [`encode`] as a JSON value.
pub fn to_json(v: &Value, ty: &Type) -> Result<Json> {
    Ok(match (ty, v) {
        (_, Value::Unknown) => {
            return Err(Error::encode("unknown values cannot be stored as JSON"));
        }
        (_, Value::Null) => Json::Null,
        (Type::Dynamic, v) => {
            let actual = v.infer_type()?;
            json!({"value": to_json(v, &actual)?, "type": actual.to_json()})
        }
        (Type::Bool, Value::Bool(b)) => Json::Bool(*b),
        (Type::Number, Value::Number(n)) => n.to_json_exact(),
        (Type::String, Value::String(s)) => Json::String(s.clone()),
        (Type::List(t), Value::List(vs)) | (Type::Set(t), Value::Set(vs)) => Json::Array(
            vs.iter()
                .enumerate()
                .map(|(i, v)| to_json(v, t).map_err(|e| e.within(PathStep::Index(i as u64))))
                .collect::<Result<_>>()?,
        ),
        (Type::Tuple(ts), Value::Tuple(vs)) if ts.len() == vs.len() => Json::Array(
            vs.iter()
                .zip(ts)
                .enumerate()
                .map(|(i, (v, t))| to_json(v, t).map_err(|e| e.within(PathStep::Index(i as u64))))
                .collect::<Result<_>>()?,
        ),
        (Type::Map(t), Value::Map(m)) => Json::Object(
            m.iter()
                .map(|(k, v)| {
                    let j = to_json(v, t).map_err(|e| e.within(PathStep::Key(k.clone())))?;
                    Ok((k.clone(), j))
                })
                .collect::<Result<_>>()?,
        ),
        (Type::Object { attrs, .. }, Value::Object(m)) => {
            super::msgpack::check_no_extra_attrs(m, attrs)?;
            Json::Object(
                attrs
                    .iter()
                    .map(|(k, t)| {
                        let j = match m.get(k) {
                            Some(v) => {
                                to_json(v, t).map_err(|e| e.within(PathStep::Attr(k.clone())))?
                            }
                            None => Json::Null,
                        };
                        Ok((k.clone(), j))
                    })
                    .collect::<Result<_>>()?,
            )
        }
        (ty, v) => return Err(super::msgpack::mismatch(v, ty)),
    })
}

pub(crate) fn from_json(v: &Json, ty: &Type) -> Result<Value> {
    convert(v, ty, false)
}

pub(crate) fn from_plain_json(v: &Json, ty: &Type) -> Result<Value> {
    convert(v, ty, true)
}

/// The value JSON implies on its own: arrays are tuples, objects are objects.
fn implied(v: &Json) -> Result<Value> {
    Ok(match v {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => Value::Number(json_number(n)?),
        Json::String(s) => Value::String(s.clone()),
        Json::Array(items) => Value::Tuple(
            items
                .iter()
                .enumerate()
                .map(|(i, v)| implied(v).map_err(|e| e.within(PathStep::Index(i as u64))))
                .collect::<Result<_>>()?,
        ),
        Json::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| {
                    let v = implied(v).map_err(|e| e.within(PathStep::Attr(k.clone())))?;
                    Ok((k.clone(), v))
                })
                .collect::<Result<_>>()?,
        ),
    })
}

/// `plain`: dynamic values are bare JSON (as [`Value::to_json`] writes them) rather than
/// cty's `{"value", "type"}` wrapper.
fn convert(v: &Json, ty: &Type, plain: bool) -> Result<Value> {
    if v.is_null() {
        return Ok(Value::Null);
    }
    Ok(match ty {
        Type::Dynamic if plain => implied(v)?,
        Type::Dynamic => {
            let obj = v.as_object().ok_or_else(|| {
                Error::decode(
                    "a dynamically-typed value must be a JSON object with \"value\" and \"type\"",
                )
            })?;
            if let Some(k) = obj.keys().find(|k| *k != "value" && *k != "type") {
                return Err(Error::decode(format!(
                    "invalid key {k:?} in a dynamically-typed value"
                )));
            }
            let t = obj
                .get("type")
                .ok_or_else(|| Error::decode("missing \"type\" in a dynamically-typed value"))?;
            let t = Type::from_json(t).map_err(|e| Error::decode(e.to_string()))?;
            let value = obj
                .get("value")
                .ok_or_else(|| Error::decode("missing \"value\" in a dynamically-typed value"))?;
            convert(value, &t, plain)?
        }
        Type::Bool => match v {
            Json::Bool(b) => Value::Bool(*b),
            Json::String(s) if s == "true" => Value::Bool(true),
            Json::String(s) if s == "false" => Value::Bool(false),
            _ => {
                return Err(Error::decode(format!(
                    "a bool is required, found {}",
                    kind(v)
                )));
            }
        },
        Type::Number => match v {
            Json::Number(n) => Value::Number(json_number(n)?),
            Json::String(s) => Value::Number(
                Number::parse(s)
                    .ok_or_else(|| Error::decode(format!("a number is required, found {s:?}")))?,
            ),
            _ => {
                return Err(Error::decode(format!(
                    "a number is required, found {}",
                    kind(v)
                )));
            }
        },
        Type::String => match v {
            Json::String(s) => Value::String(s.clone()),
            Json::Number(n) => Value::String(n.to_string()),
            Json::Bool(b) => Value::String(b.to_string()),
            _ => {
                return Err(Error::decode(format!(
                    "a string is required, found {}",
                    kind(v)
                )));
            }
        },
        Type::List(t) | Type::Set(t) => {
            let items = v.as_array().ok_or_else(|| {
                Error::decode(format!(
                    "a JSON array is required for {ty}, found {}",
                    kind(v)
                ))
            })?;
            let vs = items
                .iter()
                .enumerate()
                .map(|(i, v)| convert(v, t, plain).map_err(|e| e.within(PathStep::Index(i as u64))))
                .collect::<Result<_>>()?;
            if matches!(ty, Type::List(_)) {
                Value::List(vs)
            } else {
                Value::Set(vs)
            }
        }
        Type::Tuple(ts) => {
            let items = v.as_array().ok_or_else(|| {
                Error::decode(format!(
                    "a JSON array is required for {ty}, found {}",
                    kind(v)
                ))
            })?;
            if items.len() != ts.len() {
                return Err(Error::decode(format!(
                    "a tuple of {} elements is required, found {}",
                    ts.len(),
                    items.len()
                )));
            }
            Value::Tuple(
                items
                    .iter()
                    .zip(ts)
                    .enumerate()
                    .map(|(i, (v, t))| {
                        convert(v, t, plain).map_err(|e| e.within(PathStep::Index(i as u64)))
                    })
                    .collect::<Result<_>>()?,
            )
        }
        Type::Map(t) => {
            let obj = v.as_object().ok_or_else(|| {
                Error::decode(format!(
                    "a JSON object is required for {ty}, found {}",
                    kind(v)
                ))
            })?;
            Value::Map(
                obj.iter()
                    .map(|(k, v)| {
                        let v =
                            convert(v, t, plain).map_err(|e| e.within(PathStep::Key(k.clone())))?;
                        Ok((k.clone(), v))
                    })
                    .collect::<Result<_>>()?,
            )
        }
        Type::Object { attrs, .. } => {
            let obj = v.as_object().ok_or_else(|| {
                Error::decode(format!(
                    "a JSON object is required for an object, found {}",
                    kind(v)
                ))
            })?;
            if let Some(k) = obj.keys().find(|k| !attrs.contains_key(*k)) {
                return Err(Error::decode(format!("unsupported attribute {k:?}")));
            }
            let mut out = BTreeMap::new();
            for (k, t) in attrs {
                let value = match obj.get(k) {
                    Some(v) => {
                        convert(v, t, plain).map_err(|e| e.within(PathStep::Attr(k.clone())))?
                    }
                    None => Value::Null,
                };
                out.insert(k.clone(), value);
            }
            Value::Object(out)
        }
    })
}

fn json_number(n: &serde_json::Number) -> Result<Number> {
    if let Some(i) = n.as_i64() {
        return Ok(Number::from_i64(i));
    }
    if let Some(u) = n.as_u64() {
        return Ok(Number::from_u64(u));
    }
    n.as_f64()
        .and_then(Number::from_f64)
        .ok_or_else(|| Error::decode(format!("the number {n} is out of range")))
}

fn kind(v: &Json) -> &'static str {
    match v {
        Json::Null => "null",
        Json::Bool(_) => "a bool",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}
