//! Unit tests of the value layer: wire bytes as Terraform sends them, and bad input.

use std::collections::{BTreeMap, BTreeSet};

use ipai_codegen::{AttrPath, PathStep};
use serde_json::json;

use super::{Error, Number, Type, Value, json as cty_json, msgpack};

fn ty(j: serde_json::Value) -> Type {
    Type::from_json(&j).unwrap()
}

fn obj<const N: usize>(pairs: [(&str, Value); N]) -> Value {
    Value::Object(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

fn num(text: &str) -> Value {
    Value::Number(Number::parse(text).unwrap())
}

fn roundtrip(v: &Value, t: &Type) {
    let bytes = msgpack::encode(v, t).unwrap();
    assert_eq!(&msgpack::decode(&bytes, t).unwrap(), v, "msgpack {t}");
    if v.is_fully_known() {
        let text = cty_json::encode(v, t).unwrap();
        assert_eq!(&cty_json::decode(&text, t).unwrap(), v, "json {t}");
    }
}

fn decode_err(bytes: &[u8], t: &Type) -> Error {
    match msgpack::decode(bytes, t) {
        Err(e) => e,
        Ok(v) => panic!("decoded {v:?} from {bytes:02x?}"),
    }
}

#[test]
fn type_json_syntax_parses_and_prints_back() {
    let cases = [
        json!("string"),
        json!("number"),
        json!("bool"),
        json!("dynamic"),
        json!(["list", "string"]),
        json!(["set", ["map", "number"]]),
        json!(["tuple", ["string", ["list", "bool"]]]),
        json!(["object", {"a": "string", "b": ["object", {"c": "number"}]}]),
        json!(["object", {"a": "string", "b": "number"}, ["b"]]),
    ];
    for c in cases {
        let t = Type::from_json(&c).unwrap();
        assert_eq!(t.to_json(), c);
        assert_eq!(Type::from_json_bytes(&t.to_json_bytes()).unwrap(), t);
    }
    let t = ty(json!(["object", {"a": "string", "b": "number"}, ["b"]]));
    assert_eq!(
        t,
        Type::Object {
            attrs: BTreeMap::from([("a".into(), Type::String), ("b".into(), Type::Number)]),
            optional: BTreeSet::from(["b".into()]),
        }
    );
}

#[test]
fn invalid_type_descriptions_are_errors() {
    for bad in [
        json!("text"),
        json!(["list"]),
        json!(["list", "string", "x"]),
        json!(["object", ["a"]]),
        json!(["object", {"a": "string"}, ["b"]]),
        json!(["tuple", "string"]),
        json!(["frobnicate", "string"]),
        json!(42),
        json!([]),
    ] {
        assert!(
            matches!(Type::from_json(&bad), Err(Error::InvalidType { .. })),
            "{bad}"
        );
    }
    assert!(Type::from_json_bytes(b"[\"list\",").is_err());
}

#[test]
fn terraform_object_with_unknown_and_null_decodes() {
    // {id: unknown, name: "x", tags: null} as Terraform writes it.
    let bytes = [
        0x83, 0xa2, b'i', b'd', 0xd4, 0x00, 0x00, 0xa4, b'n', b'a', b'm', b'e', 0xa1, b'x', 0xa4,
        b't', b'a', b'g', b's', 0xc0,
    ];
    let t = ty(json!(["object", {"id": "string", "name": "string", "tags": ["map", "string"]}]));
    let v = msgpack::decode(&bytes, &t).unwrap();
    assert_eq!(
        v,
        obj([
            ("id", Value::Unknown),
            ("name", "x".into()),
            ("tags", Value::Null)
        ])
    );
    assert!(!v.is_fully_known());
    assert_eq!(v.get_attr("name").and_then(Value::as_str), Some("x"));
    // Encoding gives back the same bytes: sorted attributes, fixext1 unknown.
    assert_eq!(msgpack::encode(&v, &t).unwrap(), bytes);
    assert_eq!(v.to_json(), None);
}

#[test]
fn unknown_and_null_roundtrip_at_every_nesting_level() {
    let inner = ty(json!(["object", {"s": "string", "n": "number"}]));
    let t = Type::object([
        ("list", Type::list(inner.clone())),
        ("set", Type::set(Type::String)),
        ("map", Type::map(inner.clone())),
        ("tuple", Type::Tuple(vec![Type::Bool, inner.clone()])),
        ("obj", inner),
    ]);
    let leaf = |s: Value, n: Value| obj([("s", s), ("n", n)]);
    let specials = [Value::Null, Value::Unknown];
    for a in &specials {
        for b in &specials {
            let v = obj([
                (
                    "list",
                    Value::List(vec![
                        leaf(a.clone(), 1.into()),
                        b.clone(),
                        leaf("x".into(), a.clone()),
                    ]),
                ),
                ("set", Value::Set(vec!["a".into(), a.clone()])),
                (
                    "map",
                    Value::Map(BTreeMap::from([
                        ("k".into(), leaf(b.clone(), a.clone())),
                        ("m".into(), a.clone()),
                    ])),
                ),
                (
                    "tuple",
                    Value::Tuple(vec![b.clone(), leaf(a.clone(), b.clone())]),
                ),
                ("obj", a.clone()),
            ]);
            roundtrip(&v, &t);
        }
        roundtrip(a, &t);
    }
    let v = obj([
        ("list", Value::Unknown),
        ("set", Value::Null),
        ("map", Value::Unknown),
        ("tuple", Value::Null),
        ("obj", Value::Unknown),
    ]);
    assert_eq!(
        v.unknown_paths(),
        vec![
            AttrPath::attr("list"),
            AttrPath::attr("map"),
            AttrPath::attr("obj")
        ]
    );
    roundtrip(&v, &t);
}

#[test]
fn every_primitive_and_collection_roundtrips() {
    roundtrip(&Value::Bool(true), &Type::Bool);
    roundtrip(&Value::Bool(false), &Type::Bool);
    roundtrip(&"héllo \u{1F600}".into(), &Type::String);
    roundtrip(&"".into(), &Type::String);
    roundtrip(&"x".repeat(70_000).into(), &Type::String);
    roundtrip(&Value::List(vec![]), &Type::list(Type::Number));
    roundtrip(
        &Value::Set(vec![1.into(), 2.into()]),
        &Type::set(Type::Number),
    );
    roundtrip(&Value::Map(BTreeMap::new()), &Type::map(Type::Bool));
    roundtrip(&Value::Tuple(vec![]), &Type::Tuple(vec![]));
    roundtrip(&Value::Object(BTreeMap::new()), &Type::object::<&str>([]));
    let many: Vec<Value> = (0..70_000).map(Value::from).collect();
    roundtrip(&Value::List(many), &Type::list(Type::Number));
}

#[test]
fn nested_objects_with_optional_attributes() {
    let t = ty(json!(["object", {
        "name": "string",
        "cluster": ["object", {"node_count": "number", "autoscale": ["object", {"min": "number", "max": "number"}, ["max"]]}, ["autoscale"]],
    }, ["cluster"]]));
    let v = obj([
        ("name", "wb".into()),
        (
            "cluster",
            obj([
                ("node_count", 3.into()),
                ("autoscale", obj([("min", 1.into()), ("max", Value::Null)])),
            ]),
        ),
    ]);
    roundtrip(&v, &t);
    let at = AttrPath::attr("cluster").at("autoscale").at("min");
    assert_eq!(v.get_path(&at).and_then(Value::as_i64), Some(1));
    // Omitted attributes (optional or not) read as null, in JSON state and in msgpack.
    let state = br#"{"name":"wb","cluster":{"node_count":3,"autoscale":{"min":1}}}"#;
    assert_eq!(cty_json::decode(state, &t).unwrap(), v);
    let partial = msgpack::encode(&obj([("name", "wb".into())]), &t).unwrap();
    assert_eq!(
        msgpack::decode(&partial, &t).unwrap(),
        obj([("name", "wb".into()), ("cluster", Value::Null)])
    );
}

#[test]
fn numbers_keep_their_exact_value() {
    let cases: [(&[u8], &str); 10] = [
        (&[0x05], "5"),
        (&[0xe0], "-32"),
        (
            &[0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
            "18446744073709551615",
        ),
        (&[0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0], "-9223372036854775808"),
        (&[0xcb, 0x3f, 0xe0, 0, 0, 0, 0, 0, 0], "0.5"),
        // Terraform sends decimals a float64 cannot hold exactly as strings.
        (b"\xa30.1", "0.1"),
        (
            b"\xbb123456789012345678901234567",
            "123456789012345678901234567",
        ),
        (b"\xa51e400", &format!("1{}", "0".repeat(400))),
        // An integral float is the integer.
        (&[0xcb, 0x40, 0x45, 0, 0, 0, 0, 0, 0], "42"),
        (&[0xca, 0x3f, 0xc0, 0, 0], "1.5"),
    ];
    for (bytes, text) in cases {
        let v = msgpack::decode(bytes, &Type::Number).unwrap();
        assert_eq!(v.as_number().unwrap().to_string(), text, "{bytes:02x?}");
        roundtrip(&v, &Type::Number);
    }
    // Integers go out as msgpack ints, compactly; exact binary fractions as float64;
    // other decimals as their text.
    let enc = |t: &str| msgpack::encode(&num(t), &Type::Number).unwrap();
    assert_eq!(enc("7"), [0x07]);
    assert_eq!(enc("-1"), [0xff]);
    assert_eq!(enc("300"), [0xcd, 0x01, 0x2c]);
    assert_eq!(enc("1.5e0"), [0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0]);
    assert_eq!(enc("0.10"), b"\xa30.1");
    assert_eq!(enc("1e2"), [0x64]);
    assert_eq!(num("1e20").as_number().unwrap().as_u64(), None);
    assert_eq!(num("-0").as_i64(), Some(0));
    assert_eq!(Number::parse("2.5e-3").unwrap().to_string(), "0.0025");
    assert_eq!(num("0.1"), num("1e-1"));
    assert_ne!(num("0.1"), Value::Number(Number::from_f64(0.1).unwrap()));
    for bad in ["", "-", "1e", "1.2.3", "0x10", "1e+-2", "nan", "12a", "."] {
        assert!(Number::parse(bad).is_none(), "{bad:?}");
    }
    // Consumers get plain JSON numbers; exact JSON keeps the decimal text.
    assert_eq!(num("0.1").to_json(), Some(json!(0.1)));
    assert_eq!(
        cty_json::to_json(&num("0.1"), &Type::Number).unwrap(),
        json!("0.1")
    );
    assert_eq!(
        cty_json::to_json(&num("18446744073709551615"), &Type::Number).unwrap(),
        json!(18446744073709551615u64)
    );
    let inf = Value::Number(Number::from_f64(f64::INFINITY).unwrap());
    roundtrip(&inf, &Type::Number);
}

#[test]
fn refined_unknowns_decode_as_unknown() {
    // ext 12 with {1: false} (not null) and a string prefix refinement {2: "ab"}.
    let not_null = [0xc7, 0x03, 0x0c, 0x81, 0x01, 0xc2];
    assert_eq!(
        msgpack::decode(&not_null, &Type::String).unwrap(),
        Value::Unknown
    );
    let prefix = [0xc7, 0x05, 0x0c, 0x81, 0x02, 0xa2, b'a', b'b'];
    assert_eq!(
        msgpack::decode(&prefix, &Type::String).unwrap(),
        Value::Unknown
    );
    // Any payload of extension 0 is unknown too.
    assert_eq!(
        msgpack::decode(&[0xd5, 0x00, 0x01, 0x02], &Type::list(Type::Bool)).unwrap(),
        Value::Unknown
    );
    assert_eq!(
        msgpack::decode(&[0xc7, 0x00, 0x00], &Type::Dynamic).unwrap(),
        Value::Unknown
    );
}

#[test]
fn dynamic_values_carry_their_type() {
    let t = Type::object([("config", Type::Dynamic)]);
    // [ "[\"list\",\"string\"]" as bin, ["a"] ]
    let type_json = br#"["list","string"]"#;
    let mut bytes = vec![0x81, 0xa6];
    bytes.extend_from_slice(b"config");
    bytes.extend_from_slice(&[0x92, 0xc4, type_json.len() as u8]);
    bytes.extend_from_slice(type_json);
    bytes.extend_from_slice(&[0x91, 0xa1, b'a']);
    let v = msgpack::decode(&bytes, &t).unwrap();
    assert_eq!(v, obj([("config", Value::List(vec!["a".into()]))]));
    assert_eq!(msgpack::encode(&v, &t).unwrap(), bytes);
    // The type may also come as a msgpack str.
    let mut as_str = vec![0x92, 0xa0 | type_json.len() as u8];
    as_str.extend_from_slice(type_json);
    as_str.extend_from_slice(&[0x90]);
    assert_eq!(
        msgpack::decode(&as_str, &Type::Dynamic).unwrap(),
        Value::List(vec![])
    );
    // Null and unknown dynamic values are plain nil and ext 0.
    assert_eq!(
        msgpack::encode(&Value::Null, &Type::Dynamic).unwrap(),
        [0xc0]
    );
    assert_eq!(
        msgpack::encode(&Value::Unknown, &Type::Dynamic).unwrap(),
        [0xd4, 0, 0]
    );
    // JSON state wraps dynamic values as {"value", "type"}.
    let state = br#"{"config":{"value":{"a":[1,null]},"type":["object",{"a":["tuple",["number","string"]]}]}}"#;
    let v = cty_json::decode(state, &t).unwrap();
    let expected = obj([(
        "config",
        obj([("a", Value::Tuple(vec![1.into(), Value::Null]))]),
    )]);
    assert_eq!(v, expected);
    roundtrip(&expected, &t);
    // A collection with a null element takes its type from the other elements.
    let mixed = Value::List(vec![
        obj([("a", Value::Null), ("b", 1.into())]),
        obj([("a", "x".into()), ("b", Value::Null)]),
    ]);
    assert_eq!(
        mixed.infer_type().unwrap(),
        ty(json!(["list", ["object", {"a": "string", "b": "number"}]]))
    );
    roundtrip(&mixed, &Type::Dynamic);
    let clash = Value::List(vec![1.into(), "x".into()]);
    assert_eq!(
        msgpack::encode(&clash, &Type::Dynamic).unwrap_err().path(),
        AttrPath(vec![PathStep::Index(1)])
    );
}

#[test]
fn plain_json_is_the_inverse_of_to_json() {
    let t =
        ty(json!(["object", {"name": "string", "extra": "dynamic", "tags": ["map", "string"]}]));
    let plain = json!({"name": "wb", "extra": {"replicas": 2, "hosts": ["a", "b"]}, "tags": null});
    let v = Value::from_plain_json(&plain, &t).unwrap();
    assert_eq!(
        v.get_attr("extra"),
        Some(&obj([
            ("replicas", 2.into()),
            ("hosts", Value::Tuple(vec!["a".into(), "b".into()]))
        ]))
    );
    assert_eq!(v.to_json(), Some(plain));
    roundtrip(&v, &t);
    // cty's state JSON wants the wrapper for the same input.
    assert!(Value::from_json(&json!({"extra": {"replicas": 2}}), &t).is_err());
}

#[test]
fn json_state_converts_primitives_like_cty() {
    let t = ty(json!(["object", {"b": "bool", "n": "number", "s": "string", "t": "string"}]));
    let v = cty_json::decode(br#"{"b":"true","n":"12","s":15,"t":false}"#, &t).unwrap();
    assert_eq!(
        v,
        obj([
            ("b", true.into()),
            ("n", 12.into()),
            ("s", "15".into()),
            ("t", "false".into())
        ])
    );
    // Floats parse exactly (serde_json's default float parser can be off by one ulp).
    let x = -1.9923706297135824e234_f64;
    assert_eq!(
        cty_json::decode(b"-1.9923706297135824e234", &Type::Number).unwrap(),
        Value::Number(Number::from_f64(x).unwrap())
    );
    let big = cty_json::decode(b"18446744073709551615", &Type::Number).unwrap();
    assert_eq!(big.as_number().unwrap().as_u64(), Some(u64::MAX));
    assert_eq!(
        cty_json::decode(b"null", &Type::list(Type::String)).unwrap(),
        Value::Null
    );
}

#[test]
fn malformed_msgpack_is_an_error_with_a_path() {
    let t = ty(json!(["object", {"items": ["list", ["object", {"n": "number"}]]}]));
    // items[1].n is a string that is not a number.
    let mut bytes = vec![0x81, 0xa5];
    bytes.extend_from_slice(b"items");
    bytes.extend_from_slice(&[
        0x92, 0x81, 0xa1, b'n', 0x01, 0x81, 0xa1, b'n', 0xa2, b'x', b'y',
    ]);
    let e = decode_err(&bytes, &t);
    assert_eq!(e.path(), AttrPath::attr("items").index(1).at("n"), "{e}");
    assert_eq!(
        e.to_string(),
        "cannot decode value at items[1].n: a number is required, found \"xy\""
    );
    let d = e.to_diagnostic(&AttrPath::root());
    assert_eq!(d.path, AttrPath::attr("items").index(1).at("n"));
    assert_eq!(d.summary, "Invalid value");

    let s = Type::String;
    assert!(matches!(decode_err(&[], &s), Error::Decode { .. }));
    decode_err(&[0xa5, b'a'], &s); // truncated string
    decode_err(&[0xa1, b'a', 0xc0], &s); // trailing bytes
    decode_err(&[0xa2, 0xff, 0xfe], &s); // not UTF-8
    decode_err(&[0xc3], &s); // bool for string
    decode_err(&[0xc1], &s); // reserved byte
    decode_err(&[0xd4, 0x05, 0x00], &s); // foreign extension
    decode_err(&[0xc7, 0xff, 0x00], &s); // extension longer than the input
    decode_err(&[0xdb, 0xff, 0xff, 0xff, 0xff], &s); // str32 longer than the input
    decode_err(&[0xdd, 0xff, 0xff, 0xff, 0xff], &Type::list(Type::Bool)); // huge array, no data
    decode_err(&[0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0], &Type::Number); // NaN
    decode_err(&[0x92, 0x01, 0x02], &Type::Tuple(vec![Type::Number])); // tuple length
    decode_err(&[0x81, 0x01, 0x01], &Type::map(Type::Number)); // non-string key
    decode_err(
        &[0x82, 0xa1, b'k', 0x01, 0xa1, b'k', 0x02],
        &Type::map(Type::Number),
    );
    decode_err(&[0x81, 0xa1, b'z', 0x01], &t); // unsupported attribute
    decode_err(&[0x93, 0xa0, 0xc0, 0xc0], &Type::Dynamic); // dynamic needs 2 elements
    decode_err(&[0x92, 0xa3, b'f', b'o', b'o', 0xc0], &Type::Dynamic); // bad type JSON
    decode_err(&[0x92, 0x01, 0xc0], &Type::Dynamic); // type not a string
}

#[test]
fn encoding_a_nonconforming_value_is_an_error() {
    let t = ty(json!(["object", {"a": ["list", "number"]}]));
    let e =
        msgpack::encode(&obj([("a", Value::List(vec![1.into(), "x".into()]))]), &t).unwrap_err();
    assert_eq!(e.path(), AttrPath::attr("a").index(1));
    assert!(msgpack::encode(&obj([("zz", Value::Null)]), &t).is_err());
    assert!(msgpack::encode(&Value::Tuple(vec![1.into()]), &Type::Tuple(vec![])).is_err());
    assert!(msgpack::encode(&Value::Set(vec![]), &Type::list(Type::Bool)).is_err());
    assert!(cty_json::encode(&Value::Unknown, &Type::Bool).is_err());
}

#[test]
fn malformed_json_is_an_error() {
    let t = ty(json!(["object", {"a": "number", "d": "dynamic"}]));
    for bad in [
        &br#"{"a":"#[..],
        br#"[1]"#,
        br#"{"a":true}"#,
        br#"{"a":"ten"}"#,
        br#"{"b":1}"#,
        br#"{"d":{"value":1}}"#,
        br#"{"d":{"type":"number"}}"#,
        br#"{"d":{"type":"number","value":1,"x":2}}"#,
        br#"{"d":{"type":"wat","value":1}}"#,
        br#"{"d":5}"#,
    ] {
        assert!(
            cty_json::decode(bad, &t).is_err(),
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
    let e = cty_json::decode(br#"{"a":[1]}"#, &t).unwrap_err();
    assert_eq!(e.path(), AttrPath::attr("a"));
}
