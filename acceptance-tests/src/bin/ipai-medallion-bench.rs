//! Prints the medallion figures; asserts nothing about timing.
//!
//! 1. Expansion: validate + plan + render one layer of 1,000 and 10,000 tables (target
//!    ≤ 50 ms at 1,000, growing linearly).
//! 2. Apply: 100 tables through the postgres applier (connect, lock, ledger, one transaction
//!    per migration) against `psql -1 -f` of the same SQL on a throwaway PostgreSQL 15, as a
//!    ratio (target ≤ 1.3×).
//!
//! Run with `cargo run --release -p ipai-acceptance-tests --bin ipai-medallion-bench`
//! (`--skip-apply` for the expansion figures alone, without PostgreSQL).

use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Parser;
use ipai_acceptance_tests::postgres::{PG_BIN, TestPostgres};
use ipai_codegen::spec::MedallionLayerSpec;
use ipai_codegen::supabase::{self, LayerContext, plan};
use ipai_codegen::{Migration, Renderer};
use ipai_provider::postgres::Postgres;
use serde_json::json;

// The allocator the provider and the `ipai` CLI use, so the figures are the ones users see.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(about = "Medallion expansion and apply figures (release build)")]
struct Args {
    /// Layer sizes (tables) whose expansion is timed.
    #[arg(long, value_delimiter = ',', default_values_t = [1000, 10000])]
    expand_sizes: Vec<usize>,
    /// Only the expansion figures (no PostgreSQL).
    #[arg(long)]
    skip_apply: bool,
    /// Tables applied in the PostgreSQL comparison.
    #[arg(long, default_value_t = 100)]
    apply_tables: usize,
    /// Repetitions of each measurement (the median is reported).
    #[arg(long, default_value_t = 5)]
    repeat: usize,
}

/// A silver layer of `n` typed tables, each with a primary key, a unique key, a CHECK
/// rule and an index, plus the default presets and grants.
fn layer(n: usize) -> MedallionLayerSpec {
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

fn expand(spec: &MedallionLayerSpec, r: &Renderer) -> Result<Migration> {
    let (model, d) = supabase::layer_model(spec, &LayerContext::default());
    let model = model.with_context(|| format!("{d:?}"))?;
    Ok(supabase::migration(&model, &plan::create(&model), 0, r)?)
}

/// Times the expansion of each size and prints it with the growth against the first size.
fn expansion(sizes: &[usize], repeat: usize, r: &Renderer) -> Result<()> {
    println!("medallion expansion (validate + plan + render one layer; median of {repeat}):");
    let mut per_table = Vec::new();
    for &n in sizes {
        let spec = layer(n);
        let (mut times, mut cpu_times) = (Vec::new(), Vec::new());
        let mut bytes = 0;
        for _ in 0..repeat {
            let (start, cpu) = (Instant::now(), thread_cpu());
            let m = expand(&spec, r)?;
            times.push(start.elapsed());
            cpu_times.push(thread_cpu().zip(cpu).map(|(b, a)| b.saturating_sub(a)));
            bytes = m.sql.len();
        }
        let t = median(times);
        // On a shared machine the time on CPU is the steadier figure; growth is taken from it.
        let cpu = cpu_times
            .into_iter()
            .collect::<Option<Vec<_>>>()
            .map(median);
        per_table.push(cpu.unwrap_or(t).as_secs_f64() / n as f64);
        println!(
            "  {n:>6} tables: {:>9.2} ms wall, {} on CPU  ({:.1} µs/table, {:.1} MB of SQL)",
            ms(t),
            cpu.map_or("?".into(), |c| format!("{:.2} ms", ms(c))),
            cpu.unwrap_or(t).as_secs_f64() * 1e6 / n as f64,
            bytes as f64 / 1e6
        );
    }
    if let (Some(first), Some(last)) = (per_table.first(), per_table.last())
        && per_table.len() > 1
    {
        println!(
            "  growth: time per table at {} is {:.2}× that at {} (1.00 = linear)",
            sizes[sizes.len() - 1],
            last / first,
            sizes[0]
        );
    }
    Ok(())
}

/// Time this thread has spent on a CPU (Linux `schedstat`), when the kernel reports it.
fn thread_cpu() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns = text.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let r = Renderer::embedded()?;
    expansion(&args.expand_sizes, args.repeat, &r)?;
    if args.skip_apply {
        return Ok(());
    }

    println!(
        "apply of {} tables (median of {}), PostgreSQL 15 on 127.0.0.1:",
        args.apply_tables, args.repeat
    );
    let pg = TestPostgres::start()?;
    let meta = supabase::metadata_migration(&r)?;
    let layer = expand(&layer(args.apply_tables), &r)?;
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("all.sql");
    std::fs::write(&file, format!("{}\n{}", meta.sql, layer.sql))?;
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for i in 0..args.repeat {
        pg.psql_args(&["-c", &format!("CREATE DATABASE a{i}")])?;
        pg.psql_args(&["-c", &format!("CREATE DATABASE b{i}")])?;
        let url = pg.url_of(&format!("a{i}"), "postgres");
        let start = Instant::now();
        let mut db = Postgres::connect(&url).await?;
        db.apply(
            "bench",
            supabase::METADATA_RESOURCE,
            std::slice::from_ref(&meta),
        )
        .await?;
        db.apply("bench", "bench/bench/silver", std::slice::from_ref(&layer))
            .await?;
        ours.push(start.elapsed());
        drop(db);

        let start = Instant::now();
        let out = Command::new(format!("{PG_BIN}/psql"))
            .args(["-X", "-q", "-1", "-v", "ON_ERROR_STOP=1", "-d"])
            .arg(pg.url_of(&format!("b{i}"), "postgres"))
            .arg("-f")
            .arg(&file)
            .output()?;
        theirs.push(start.elapsed());
        if !out.status.success() {
            bail!("psql -f failed: {}", String::from_utf8_lossy(&out.stderr));
        }
    }
    let (a, b) = (median(ours), median(theirs));
    println!("  ipai applier: {:>8.2} ms", ms(a));
    println!("  psql -1 -f:   {:>8.2} ms", ms(b));
    println!(
        "  ratio:        {:>8.2}×  (target ≤ 1.30×)",
        a.as_secs_f64() / b.as_secs_f64()
    );
    Ok(())
}
