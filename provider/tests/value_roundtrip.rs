//! Property tests of the value layer: random types with conforming values survive the
//! msgpack and JSON codecs unchanged, encoding is canonical, and no input makes a decoder panic.

use std::collections::{BTreeMap, BTreeSet};

use ipai_provider::value::{Number, Type, Value, json, msgpack};
use proptest::collection::{btree_map, vec};
use proptest::prelude::*;

fn arb_type() -> impl Strategy<Value = Type> {
    let leaf = prop_oneof![
        Just(Type::Bool),
        Just(Type::Number),
        Just(Type::String),
        Just(Type::Dynamic),
    ];
    leaf.prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            inner.clone().prop_map(Type::list),
            inner.clone().prop_map(Type::set),
            inner.clone().prop_map(Type::map),
            vec(inner.clone(), 0..4).prop_map(Type::Tuple),
            btree_map("[a-z_]{1,6}", inner, 0..5).prop_flat_map(|attrs| {
                let names: Vec<String> = attrs.keys().cloned().collect();
                let n = names.len();
                (Just(attrs), proptest::sample::subsequence(names, 0..=n)).prop_map(
                    |(attrs, optional)| Type::Object {
                        attrs,
                        optional: optional.into_iter().collect::<BTreeSet<_>>(),
                    },
                )
            }),
        ]
    })
}

/// Decimal text that neither fits 64 bits nor is an exact float64, e.g. `0.1`, `3e40`.
fn arb_decimal() -> impl Strategy<Value = Number> {
    ("-?[1-9][0-9]{0,30}(\\.[0-9]{1,20})?(e-?[0-9]{1,3})?")
        .prop_filter_map("not a number", |s| Number::parse(&s))
}

fn arb_number() -> impl Strategy<Value = Number> {
    prop_oneof![
        any::<i64>().prop_map(Number::from_i64),
        any::<u64>().prop_map(Number::from_u64),
        any::<f64>().prop_filter_map("NaN", Number::from_f64),
        arb_decimal(),
    ]
}

/// A value conforming to `ty`; `known` leaves out unknowns (JSON cannot hold them).
fn arb_value(ty: &Type, known: bool) -> BoxedStrategy<Value> {
    let conforming: BoxedStrategy<Value> = match ty {
        Type::Bool => any::<bool>().prop_map(Value::Bool).boxed(),
        Type::Number => arb_number().prop_map(Value::Number).boxed(),
        Type::String => any::<String>().prop_map(Value::String).boxed(),
        Type::Dynamic => arb_type()
            .prop_flat_map(move |t| arb_value(&t, known))
            .boxed(),
        Type::List(t) => vec(arb_value(t, known), 0..4).prop_map(Value::List).boxed(),
        Type::Set(t) => vec(arb_value(t, known), 0..4).prop_map(Value::Set).boxed(),
        Type::Map(t) => btree_map(any::<String>(), arb_value(t, known), 0..4)
            .prop_map(Value::Map)
            .boxed(),
        Type::Tuple(ts) => ts
            .iter()
            .map(|t| arb_value(t, known))
            .collect::<Vec<_>>()
            .prop_map(Value::Tuple)
            .boxed(),
        Type::Object { attrs, .. } => attrs
            .iter()
            .map(|(k, t)| (Just(k.clone()), arb_value(t, known)))
            .collect::<Vec<_>>()
            .prop_map(|pairs| Value::Object(pairs.into_iter().collect::<BTreeMap<_, _>>()))
            .boxed(),
    };
    if known {
        prop_oneof![1 => Just(Value::Null), 6 => conforming].boxed()
    } else {
        prop_oneof![1 => Just(Value::Null), 1 => Just(Value::Unknown), 6 => conforming].boxed()
    }
}

fn typed_value(known: bool) -> impl Strategy<Value = (Type, Value)> {
    arb_type().prop_flat_map(move |t| (Just(t.clone()), arb_value(&t, known)))
}

/// Dynamic values must not mix element types within one collection; the generator can,
/// so such values are skipped (encoding them is an error, checked in the unit tests).
fn encodable(v: &Value, t: &Type) -> Option<Vec<u8>> {
    msgpack::encode(v, t).ok()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn type_json_roundtrips(t in arb_type()) {
        prop_assert_eq!(Type::from_json(&t.to_json()).unwrap(), t.clone());
        prop_assert_eq!(Type::from_json_bytes(&t.to_json_bytes()).unwrap(), t);
    }

    #[test]
    fn msgpack_roundtrips_and_is_canonical((t, v) in typed_value(false)) {
        let Some(bytes) = encodable(&v, &t) else { return Ok(()) };
        let back = msgpack::decode(&bytes, &t).unwrap();
        prop_assert_eq!(&back, &v);
        prop_assert_eq!(msgpack::encode(&back, &t).unwrap(), bytes);
        prop_assert_eq!(v.to_json().is_some(), v.is_fully_known());
    }

    #[test]
    fn json_roundtrips((t, v) in typed_value(true)) {
        let Ok(text) = json::encode(&v, &t) else {
            // Only dynamic collections with mixed element types cannot be encoded.
            prop_assert!(encodable(&v, &t).is_none());
            return Ok(());
        };
        prop_assert_eq!(json::decode(&text, &t).unwrap(), v.clone());
        let parsed: serde_json::Value = serde_json::from_slice(&text).unwrap();
        prop_assert_eq!(Value::from_json(&parsed, &t).unwrap(), v);
    }

    #[test]
    fn damaged_msgpack_never_panics((t, v) in typed_value(false), cut in any::<prop::sample::Index>(), flip in any::<u8>()) {
        let Some(mut bytes) = encodable(&v, &t) else { return Ok(()) };
        let at = cut.index(bytes.len());
        let _ = msgpack::decode(&bytes[..at], &t);
        bytes[at] ^= flip | 1;
        let _ = msgpack::decode(&bytes, &t);
    }

    #[test]
    fn random_bytes_never_panic(t in arb_type(), bytes in vec(any::<u8>(), 0..64)) {
        let _ = msgpack::decode(&bytes, &t);
        let _ = json::decode(&bytes, &t);
    }
}
