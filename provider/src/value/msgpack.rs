//! cty's msgpack encoding, as Terraform sends `DynamicValue.msgpack`.
//!
//! Null is nil; unknown is an extension value (type 0, or type 12 carrying refinements,
//! which are dropped); numbers are ints, float64s, or strings holding the decimal;
//! objects and maps are maps with string keys (written sorted); lists, sets and tuples
//! are arrays; a value of type `dynamic` is `[type JSON as bin, value]`.

use std::collections::BTreeMap;

use ipai_codegen::PathStep;
use rmp::Marker;
use rmp::encode as enc;

use super::number::Wire;
use super::{Error, Number, Result, Type, Value};

/// Extension type of an unknown value without refinements.
const EXT_UNKNOWN: i8 = 0;
/// Extension type of an unknown value with refinements (Terraform 1.6+).
const EXT_REFINED_UNKNOWN: i8 = 12;

/// Decodes `DynamicValue.msgpack` bytes holding a value of type `ty`.
pub fn decode(bytes: &[u8], ty: &Type) -> Result<Value> {
    let mut r = Reader { buf: bytes };
    let v = decode_value(&mut r, ty)?;
    if !r.buf.is_empty() {
        return Err(Error::decode(format!(
            "{} unexpected bytes after the value",
            r.buf.len()
        )));
    }
    Ok(v)
}

/// Encodes `v` as a value of type `ty`; fails when `v` does not conform to `ty`.
/// Object attributes missing from `v` are written as null.
pub fn encode(v: &Value, ty: &Type) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(64);
    encode_value(&mut out, v, ty)?;
    Ok(out)
}

struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.buf.len() < n {
            return Err(Error::decode("unexpected end of input"));
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    fn marker(&mut self) -> Result<Marker> {
        Ok(Marker::from_u8(self.take(1)?[0]))
    }

    fn be<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    fn u8(&mut self) -> Result<usize> {
        Ok(usize::from(self.take(1)?[0]))
    }

    fn u16(&mut self) -> Result<usize> {
        Ok(usize::from(u16::from_be_bytes(self.be()?)))
    }

    fn u32(&mut self) -> Result<usize> {
        // A length beyond the address space can never be satisfied by the input anyway.
        Ok(usize::try_from(u32::from_be_bytes(self.be()?)).unwrap_or(usize::MAX))
    }

    /// Capacity to reserve for `n` elements: each takes at least one byte, so a lying
    /// length cannot make us allocate more than the input's size.
    fn capacity(&self, n: usize) -> usize {
        n.min(self.buf.len())
    }
}

/// The payload length of an extension marker, `None` for other markers.
fn ext_len(r: &mut Reader<'_>, m: Marker) -> Result<Option<usize>> {
    Ok(Some(match m {
        Marker::FixExt1 => 1,
        Marker::FixExt2 => 2,
        Marker::FixExt4 => 4,
        Marker::FixExt8 => 8,
        Marker::FixExt16 => 16,
        Marker::Ext8 => r.u8()?,
        Marker::Ext16 => r.u16()?,
        Marker::Ext32 => r.u32()?,
        _ => return Ok(None),
    }))
}

fn str_len(r: &mut Reader<'_>, m: Marker) -> Result<Option<usize>> {
    Ok(Some(match m {
        Marker::FixStr(n) => usize::from(n),
        Marker::Str8 | Marker::Bin8 => r.u8()?,
        Marker::Str16 | Marker::Bin16 => r.u16()?,
        Marker::Str32 | Marker::Bin32 => r.u32()?,
        _ => return Ok(None),
    }))
}

fn array_len(r: &mut Reader<'_>, m: Marker) -> Result<Option<usize>> {
    Ok(Some(match m {
        Marker::FixArray(n) => usize::from(n),
        Marker::Array16 => r.u16()?,
        Marker::Array32 => r.u32()?,
        _ => return Ok(None),
    }))
}

fn map_len(r: &mut Reader<'_>, m: Marker) -> Result<Option<usize>> {
    Ok(Some(match m {
        Marker::FixMap(n) => usize::from(n),
        Marker::Map16 => r.u16()?,
        Marker::Map32 => r.u32()?,
        _ => return Ok(None),
    }))
}

/// A string (msgpack str, or bin as some encoders write) that must be UTF-8.
fn read_str<'a>(r: &mut Reader<'a>, m: Marker, what: &str) -> Result<&'a str> {
    let n = str_len(r, m)?.ok_or_else(|| Error::decode(format!("{what} is required")))?;
    std::str::from_utf8(r.take(n)?).map_err(|_| Error::decode(format!("{what} is not UTF-8")))
}

fn describe(m: Marker) -> &'static str {
    match m {
        Marker::Null => "null",
        Marker::True | Marker::False => "a bool",
        Marker::FixPos(_)
        | Marker::FixNeg(_)
        | Marker::U8
        | Marker::U16
        | Marker::U32
        | Marker::U64
        | Marker::I8
        | Marker::I16
        | Marker::I32
        | Marker::I64
        | Marker::F32
        | Marker::F64 => "a number",
        Marker::FixStr(_) | Marker::Str8 | Marker::Str16 | Marker::Str32 => "a string",
        Marker::Bin8 | Marker::Bin16 | Marker::Bin32 => "binary data",
        Marker::FixArray(_) | Marker::Array16 | Marker::Array32 => "an array",
        Marker::FixMap(_) | Marker::Map16 | Marker::Map32 => "a map",
        Marker::FixExt1
        | Marker::FixExt2
        | Marker::FixExt4
        | Marker::FixExt8
        | Marker::FixExt16
        | Marker::Ext8
        | Marker::Ext16
        | Marker::Ext32 => "an extension value",
        Marker::Reserved => "the reserved byte 0xc1",
    }
}

fn wanted(what: &str, m: Marker) -> Error {
    Error::decode(format!("{what} is required, found {}", describe(m)))
}

fn decode_value(r: &mut Reader<'_>, ty: &Type) -> Result<Value> {
    let m = r.marker()?;
    if let Some(len) = ext_len(r, m)? {
        let code = r.take(1)?[0] as i8;
        r.take(len)?;
        return match code {
            EXT_UNKNOWN | EXT_REFINED_UNKNOWN => Ok(Value::Unknown),
            _ => Err(Error::decode(format!(
                "unsupported msgpack extension type {code}"
            ))),
        };
    }
    if m == Marker::Null {
        return Ok(Value::Null);
    }
    match ty {
        Type::Dynamic => decode_dynamic(r, m),
        Type::Bool => match m {
            Marker::True => Ok(Value::Bool(true)),
            Marker::False => Ok(Value::Bool(false)),
            _ => Err(wanted("a bool", m)),
        },
        Type::Number => decode_number(r, m).map(Value::Number),
        Type::String => Ok(Value::String(read_str(r, m, "a string")?.to_owned())),
        Type::List(t) | Type::Set(t) => {
            let n = array_len(r, m)?.ok_or_else(|| wanted("an array", m))?;
            let mut vs = Vec::with_capacity(r.capacity(n));
            for i in 0..n {
                vs.push(decode_value(r, t).map_err(|e| e.within(PathStep::Index(i as u64)))?);
            }
            Ok(if matches!(ty, Type::List(_)) {
                Value::List(vs)
            } else {
                Value::Set(vs)
            })
        }
        Type::Tuple(ts) => {
            let n = array_len(r, m)?.ok_or_else(|| wanted("an array", m))?;
            if n != ts.len() {
                return Err(Error::decode(format!(
                    "a tuple of {} elements is required, found {n}",
                    ts.len()
                )));
            }
            let mut vs = Vec::with_capacity(n);
            for (i, t) in ts.iter().enumerate() {
                vs.push(decode_value(r, t).map_err(|e| e.within(PathStep::Index(i as u64)))?);
            }
            Ok(Value::Tuple(vs))
        }
        Type::Map(t) => {
            let n = map_len(r, m)?.ok_or_else(|| wanted("a map", m))?;
            let mut out = BTreeMap::new();
            for _ in 0..n {
                let km = r.marker()?;
                let k = read_str(r, km, "a string map key")?;
                let v = decode_value(r, t).map_err(|e| e.within(PathStep::Key(k.to_owned())))?;
                if out.insert(k.to_owned(), v).is_some() {
                    return Err(Error::decode(format!("duplicate map key {k:?}")));
                }
            }
            Ok(Value::Map(out))
        }
        Type::Object { attrs, .. } => {
            let n = map_len(r, m)?.ok_or_else(|| wanted("an object (a map)", m))?;
            let mut out = BTreeMap::new();
            for _ in 0..n {
                let km = r.marker()?;
                let k = read_str(r, km, "a string attribute name")?;
                let t = attrs
                    .get(k)
                    .ok_or_else(|| Error::decode(format!("unsupported attribute {k:?}")))?;
                let v = decode_value(r, t).map_err(|e| e.within(PathStep::Attr(k.to_owned())))?;
                if out.insert(k.to_owned(), v).is_some() {
                    return Err(Error::decode(format!("duplicate attribute {k:?}")));
                }
            }
            if out.len() < attrs.len() {
                // Terraform always sends every attribute; tolerate others by filling nulls.
                for k in attrs.keys() {
                    out.entry(k.clone()).or_insert(Value::Null);
                }
            }
            Ok(Value::Object(out))
        }
    }
}

fn decode_dynamic(r: &mut Reader<'_>, m: Marker) -> Result<Value> {
    let n = array_len(r, m)?
        .ok_or_else(|| wanted("a [type, value] array for a dynamically-typed value", m))?;
    if n != 2 {
        return Err(Error::decode(format!(
            "a dynamically-typed value is a [type, value] array, found {n} elements"
        )));
    }
    let tm = r.marker()?;
    let type_json = read_str(r, tm, "the JSON type of a dynamically-typed value")?;
    let ty =
        Type::from_json_bytes(type_json.as_bytes()).map_err(|e| Error::decode(e.to_string()))?;
    decode_value(r, &ty)
}

fn decode_number(r: &mut Reader<'_>, m: Marker) -> Result<Number> {
    Ok(match m {
        Marker::FixPos(n) => Number::from_i64(n.into()),
        Marker::FixNeg(n) => Number::from_i64(n.into()),
        Marker::U8 => Number::from_i64(r.take(1)?[0].into()),
        Marker::U16 => Number::from_i64(u16::from_be_bytes(r.be()?).into()),
        Marker::U32 => Number::from_i64(u32::from_be_bytes(r.be()?).into()),
        Marker::U64 => Number::from_u64(u64::from_be_bytes(r.be()?)),
        Marker::I8 => Number::from_i64((r.take(1)?[0] as i8).into()),
        Marker::I16 => Number::from_i64(i16::from_be_bytes(r.be()?).into()),
        Marker::I32 => Number::from_i64(i32::from_be_bytes(r.be()?).into()),
        Marker::I64 => Number::from_i64(i64::from_be_bytes(r.be()?)),
        Marker::F32 => Number::from_f64(f32::from_be_bytes(r.be()?).into())
            .ok_or_else(|| Error::decode("NaN is not a number"))?,
        Marker::F64 => Number::from_f64(f64::from_be_bytes(r.be()?))
            .ok_or_else(|| Error::decode("NaN is not a number"))?,
        _ => {
            let s = read_str(r, m, "a number").map_err(|_| wanted("a number", m))?;
            Number::parse(s)
                .ok_or_else(|| Error::decode(format!("a number is required, found {s:?}")))?
        }
    })
}

fn w<T, E: std::fmt::Display>(r: std::result::Result<T, E>) -> Result<()> {
    // Writing into a Vec cannot fail; keep the error rather than unwrap all the same.
    r.map(|_| ()).map_err(|e| Error::encode(e.to_string()))
}

fn len32(n: usize) -> Result<u32> {
    u32::try_from(n).map_err(|_| Error::encode("collection too large for msgpack"))
}

pub(crate) fn mismatch(v: &Value, ty: &Type) -> Error {
    let found = match v {
        Value::Null => "null",
        Value::Unknown => "unknown",
        Value::Bool(_) => "a bool",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::List(_) => "a list",
        Value::Set(_) => "a set",
        Value::Map(_) => "a map",
        Value::Object(_) => "an object",
        Value::Tuple(vs) => {
            return Error::encode(format!(
                "{ty} is required, found a tuple of {} elements",
                vs.len()
            ));
        }
    };
    Error::encode(format!("{ty} is required, found {found}"))
}

pub(crate) fn check_no_extra_attrs(
    m: &BTreeMap<String, Value>,
    attrs: &BTreeMap<String, Type>,
) -> Result<()> {
    match m.keys().find(|k| !attrs.contains_key(*k)) {
        Some(k) => Err(Error::encode(format!(
            "attribute {k:?} is not part of the object type"
        ))),
        None => Ok(()),
    }
}

fn encode_value(out: &mut Vec<u8>, v: &Value, ty: &Type) -> Result<()> {
    match (ty, v) {
        (_, Value::Unknown) => out.extend_from_slice(&[0xd4, EXT_UNKNOWN as u8, 0]),
        (_, Value::Null) => w(enc::write_nil(out))?,
        (Type::Dynamic, v) => {
            let actual = v.infer_type()?;
            w(enc::write_array_len(out, 2))?;
            w(enc::write_bin(out, &actual.to_json_bytes()))?;
            encode_value(out, v, &actual)?;
        }
        (Type::Bool, Value::Bool(b)) => w(enc::write_bool(out, *b))?,
        (Type::Number, Value::Number(n)) => match n.wire() {
            Wire::Int(i) => w(enc::write_sint(out, i))?,
            Wire::UInt(u) => w(enc::write_uint(out, u))?,
            Wire::Float(x) => w(enc::write_f64(out, x))?,
            Wire::Text(t) => w(enc::write_str(out, t))?,
        },
        (Type::String, Value::String(s)) => w(enc::write_str(out, s))?,
        (Type::List(t), Value::List(vs)) | (Type::Set(t), Value::Set(vs)) => {
            w(enc::write_array_len(out, len32(vs.len())?))?;
            for (i, v) in vs.iter().enumerate() {
                encode_value(out, v, t).map_err(|e| e.within(PathStep::Index(i as u64)))?;
            }
        }
        (Type::Tuple(ts), Value::Tuple(vs)) if ts.len() == vs.len() => {
            w(enc::write_array_len(out, len32(vs.len())?))?;
            for (i, (v, t)) in vs.iter().zip(ts).enumerate() {
                encode_value(out, v, t).map_err(|e| e.within(PathStep::Index(i as u64)))?;
            }
        }
        (Type::Map(t), Value::Map(m)) => {
            w(enc::write_map_len(out, len32(m.len())?))?;
            for (k, v) in m {
                w(enc::write_str(out, k))?;
                encode_value(out, v, t).map_err(|e| e.within(PathStep::Key(k.clone())))?;
            }
        }
        (Type::Object { attrs, .. }, Value::Object(m)) => {
            check_no_extra_attrs(m, attrs)?;
            w(enc::write_map_len(out, len32(attrs.len())?))?;
            for (k, t) in attrs {
                w(enc::write_str(out, k))?;
                match m.get(k) {
                    Some(v) => {
                        encode_value(out, v, t).map_err(|e| e.within(PathStep::Attr(k.clone())))?
                    }
                    None => w(enc::write_nil(out))?,
                }
            }
        }
        (ty, v) => return Err(mismatch(v, ty)),
    }
    Ok(())
}
