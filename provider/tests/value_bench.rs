//! Micro-benchmark of the value codecs on a typical resource object; prints figures, asserts
//! nothing about time. Run:
//! `cargo test --release -p terraform-provider-ipai --test value_bench -- --ignored --nocapture`

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Instant;

use ipai_provider::value::{Type, Value, json, msgpack};

/// An `ipai_workbench`-sized object: scalars, a nested block, tags, a list of objects,
/// computed attributes unknown as during a plan.
fn workbench() -> (Type, Value) {
    let t = Type::from_json(&serde_json::json!(["object", {
        "id": "string", "name": "string", "region": "string", "domain": "string",
        "environment": "string", "vpc_cidr": "string", "registry_tier": "string",
        "cluster": ["object", {"version": "string", "node_size": "string", "node_count": "number",
                               "autoscale": ["object", {"min": "number", "max": "number"}]}, ["autoscale"]],
        "firewall": ["object", {"ssh_sources": ["list", "string"]}],
        "services": ["object", {"traefik": "bool", "n8n": "bool"}],
        "tags": ["map", "string"],
        "endpoints": ["map", "string"],
        "artifacts": ["list", ["object", {"path": "string", "sha256": "string"}]],
        "monthly_cost_cents": "number"
    }, ["registry_tier", "cluster"]]))
    .unwrap();
    let s = |x: &str| Value::String(x.to_owned());
    let obj = |pairs: Vec<(&str, Value)>| {
        Value::Object(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
    };
    let artifacts = (0..12)
        .map(|i| {
            obj(vec![
                ("path", s(&format!("wb/kubernetes/base/namespace-{i}.yaml"))),
                ("sha256", s(&"ab".repeat(32))),
            ])
        })
        .collect();
    let v = obj(vec![
        ("id", Value::Unknown),
        ("name", s("ai-workbench")),
        ("region", s("sgp1")),
        ("domain", s("insightpulseai.net")),
        ("environment", s("production")),
        ("vpc_cidr", s("10.10.0.0/16")),
        ("registry_tier", Value::Null),
        (
            "cluster",
            obj(vec![
                ("version", s("1.31")),
                ("node_size", s("s-4vcpu-8gb")),
                ("node_count", 3.into()),
                ("autoscale", obj(vec![("min", 3.into()), ("max", 6.into())])),
            ]),
        ),
        (
            "firewall",
            obj(vec![(
                "ssh_sources",
                Value::List(vec![s("203.0.113.0/24"), s("198.51.100.7/32")]),
            )]),
        ),
        (
            "services",
            obj(vec![("traefik", true.into()), ("n8n", false.into())]),
        ),
        (
            "tags",
            Value::Map(BTreeMap::from([
                ("team".to_owned(), s("platform")),
                ("env".to_owned(), s("prod")),
            ])),
        ),
        ("endpoints", Value::Unknown),
        ("artifacts", Value::List(artifacts)),
        ("monthly_cost_cents", Value::Unknown),
    ]);
    (t, v)
}

/// CPU time of this thread in ns (Linux), so that a loaded machine does not inflate figures.
fn thread_cpu_ns() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    stat.split_whitespace().next()?.parse().ok()
}

/// Microseconds per call: thread CPU time where available, wall time otherwise.
fn per_call(n: u32, mut f: impl FnMut()) -> f64 {
    let (cpu, wall) = (thread_cpu_ns(), Instant::now());
    for _ in 0..n {
        f();
    }
    match (cpu, thread_cpu_ns()) {
        (Some(a), Some(b)) => (b - a) as f64 / 1e3 / f64::from(n),
        _ => wall.elapsed().as_secs_f64() * 1e6 / f64::from(n),
    }
}

#[test]
#[ignore = "benchmark: prints figures; run with --release -- --ignored --nocapture"]
fn value_codec_speed() {
    let (t, v) = workbench();
    let bytes = msgpack::encode(&v, &t).unwrap();
    let mut known = v.clone();
    for k in ["id", "endpoints", "monthly_cost_cents"] {
        *known.get_attr_mut(k).unwrap() = Value::Null;
    }
    let state = json::encode(&known, &t).unwrap();
    let n = 20_000;
    let decode = per_call(n, || {
        black_box(msgpack::decode(black_box(&bytes), &t).unwrap());
    });
    let encode = per_call(n, || {
        black_box(msgpack::encode(black_box(&v), &t).unwrap());
    });
    // Baselines on the same bytes: untyped parses by rmpv and serde_json.
    let rmpv_parse = per_call(n, || {
        black_box(rmpv::decode::read_value(&mut black_box(&bytes[..])).unwrap());
    });
    let serde_parse = per_call(n, || {
        black_box(serde_json::from_slice::<serde_json::Value>(black_box(&state)).unwrap());
    });
    let json_decode = per_call(n, || {
        black_box(json::decode(black_box(&state), &t).unwrap());
    });
    println!(
        "workbench object ({} msgpack bytes, {} JSON bytes): msgpack decode {decode:.2} µs, \
         encode {encode:.2} µs (untyped rmpv parse {rmpv_parse:.2} µs), JSON state decode \
         {json_decode:.2} µs (untyped serde_json parse {serde_parse:.2} µs) per object; \
         1000 resources x (config + prior + proposed decode, planned encode) ≈ {:.1} ms",
        bytes.len(),
        state.len(),
        (3.0 * decode + encode) * 1000.0 / 1000.0,
    );
}
