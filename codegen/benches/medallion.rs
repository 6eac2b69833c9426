//! Expansion time of one medallion layer of 1,000 and 10,000 tables (validate + plan +
//! render), printed; asserts nothing about timing. Target: ≤ 50 ms at 1,000, linear growth.
//!
//! Run with `cargo bench -p ipai-codegen --bench medallion` (optimised build).

use std::time::{Duration, Instant};

use ipai_codegen::Renderer;
use ipai_codegen::spec::MedallionLayerSpec;
use ipai_codegen::supabase::{self, LayerContext, plan};
use serde_json::json;

/// A silver layer of `n` typed tables, each with a primary key, a unique key, a CHECK
/// rule, an index, the default presets and grants.
pub fn layer(n: usize) -> MedallionLayerSpec {
    let tables: Vec<_> = (0..n)
        .map(|i| {
            json!({
                "name": format!("t{i:05}"),
                "columns": [
                    {"name": "id", "type": "bigint", "nullable": false},
                    {"name": "code", "type": "text", "nullable": false},
                    {"name": "amount", "type": "numeric(12,2)", "nullable": false, "default": "0"},
                    {"name": "happened_on", "type": "date", "nullable": false},
                    {"name": "tags", "type": "text[]"},
                    {"name": "payload", "type": "jsonb"},
                    {"name": "created_at", "type": "timestamptz", "nullable": false, "default": "now()"}
                ],
                "primary_key": ["id"],
                "unique": [["code"]],
                "checks": [{"name": "amount_positive", "expression": "amount >= 0"}],
                "indexes": [{"columns": ["happened_on"]}],
                "retention_column": "created_at"
            })
        })
        .collect();
    serde_json::from_value(json!({
        "workbench": "bench", "layer": "silver", "schema": "bench", "tables": tables
    }))
    .expect("bench spec")
}

fn main() {
    let r = Renderer::embedded().expect("templates");
    let repeat = 5;
    println!("medallion expansion (validate + plan + render one layer; median of {repeat}):");
    let mut per_table = Vec::new();
    for n in [1000usize, 10000] {
        let spec = layer(n);
        let mut times: Vec<Duration> = Vec::new();
        let mut bytes = 0;
        for _ in 0..repeat {
            let start = Instant::now();
            let (model, d) = supabase::layer_model(&spec, &LayerContext::default());
            let model = model.unwrap_or_else(|| panic!("{d:?}"));
            let m = supabase::migration(&model, &plan::create(&model), 0, &r).expect("render");
            times.push(start.elapsed());
            bytes = m.sql.len();
        }
        times.sort();
        let t = times[times.len() / 2];
        per_table.push(t.as_secs_f64() / n as f64);
        println!(
            "  {n:>6} tables: {:>9.2} ms  ({:.1} µs/table, {:.1} MB of SQL)",
            t.as_secs_f64() * 1000.0,
            t.as_secs_f64() * 1e6 / n as f64,
            bytes as f64 / 1e6
        );
    }
    println!(
        "  growth: time per table at 10,000 is {:.2}× that at 1,000 (1.00 = linear)",
        per_table[1] / per_table[0]
    );
}
