//! Prints performance figures of the release provider; asserts nothing about timing.
//!
//! 1. Start-up: spawns the provider as Terraform does (magic cookie, protocol 6) many times
//!    and reports the time to the handshake line, with and without AutoMTLS.
//! 2. Terraform: plan, apply and no-op plan of N `ipai_workbench` resources against N of the
//!    built-in `terraform_data`, in the same run, as ratios. Beside the wall time it prints the
//!    CPU time of terraform and its provider processes and the state size per resource:
//!    Terraform's own work per resource (state copies, the state file rewritten after every
//!    applied resource, plan rendering) grows with the size of the resource's state.
//!
//! Run through `scripts/bench.sh`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Parser;
use ipai_acceptance_tests::terraform::{ProviderBlock, Workspace, build_provider, terraform_bin};

/// go-plugin's magic cookie for Terraform providers.
const MAGIC_COOKIE_KEY: &str = "TF_PLUGIN_MAGIC_COOKIE";
const MAGIC_COOKIE_VALUE: &str = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";

#[derive(Parser)]
#[command(about = "Start-up and plan/apply figures of the release provider")]
struct Args {
    /// Provider executable to measure (default: `cargo build --release` of the provider, or
    /// $IPAI_PROVIDER_BIN).
    #[arg(long)]
    provider: Option<PathBuf>,
    /// How many start-ups to time.
    #[arg(long, default_value_t = 200)]
    startups: usize,
    /// Resource counts to run plan/apply with.
    #[arg(long, value_delimiter = ',', default_values_t = [1, 100, 1000])]
    sizes: Vec<usize>,
    /// Repetitions of each terraform measurement (the median is reported).
    #[arg(long, default_value_t = 3)]
    repeat: usize,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let explicit = args
        .provider
        .or_else(|| std::env::var_os("IPAI_PROVIDER_BIN").map(PathBuf::from));
    let provider = match explicit {
        Some(p) => std::path::absolute(p)?,
        None => {
            eprintln!("building the release provider (cargo build --release)…");
            build_provider(true)?
        }
    };
    let terraform = terraform_bin()?;
    let version = Workspace::with(terraform, &provider)?.run_ok(&["version"])?;
    println!("provider:  {}", provider.display());
    println!(
        "terraform: {} ({})",
        terraform.display(),
        version.stdout.lines().next().unwrap_or("?")
    );
    println!("cores:     {}", std::thread::available_parallelism()?);

    println!(
        "\n== start-up to handshake line ({} runs each)",
        args.startups
    );
    let client_cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])?
        .cert
        .pem();
    for (label, cert) in [("plain", None), ("AutoMTLS", Some(client_cert.as_str()))] {
        let mut samples = Vec::with_capacity(args.startups);
        for _ in 0..args.startups {
            samples.push(startup(&provider, cert)?);
        }
        samples.sort();
        println!(
            "{label:>9}: median {}  p90 {}  min {}   (target ≤ 3 ms)",
            ms(percentile(&samples, 50)),
            ms(percentile(&samples, 90)),
            ms(samples[0]),
        );
    }

    println!(
        "\n== terraform, median of {} (ipai_workbench vs terraform_data)",
        args.repeat
    );
    println!(
        "{:>6}  {:<13} {:>14} {:>14} {:>7}   {:>9} {:>9} (CPU s, terraform + provider)",
        "N", "operation", "ipai_workbench", "terraform_data", "ratio", "ipai", "data"
    );
    for &n in &args.sizes {
        let ipai = measure(terraform, &provider, Kind::Workbench, n, args.repeat)?;
        let data = measure(terraform, &provider, Kind::TerraformData, n, args.repeat)?;
        for (op, a, b) in [
            ("plan", ipai.plan, data.plan),
            ("apply", ipai.apply, data.apply),
            ("no-op plan", ipai.noop, data.noop),
        ] {
            println!(
                "{n:>6}  {op:<13} {:>14} {:>14} {:>6.2}×   {:>9.2} {:>9.2}",
                secs(a.wall),
                secs(b.wall),
                a.wall.as_secs_f64() / b.wall.as_secs_f64(),
                a.cpu.as_secs_f64(),
                b.cpu.as_secs_f64(),
            );
        }
        println!(
            "{n:>6}  state bytes per resource: ipai_workbench {}, terraform_data {}",
            ipai.state_bytes / n.max(1) as u64,
            data.state_bytes / n.max(1) as u64
        );
    }
    println!("\ntarget: no-op plan of 1000 ipai_workbench ≤ 1.3× terraform_data");
    Ok(())
}

/// Spawns the provider like go-plugin does and returns the time until its handshake line.
fn startup(provider: &Path, client_cert: Option<&str>) -> Result<Duration> {
    let mut cmd = Command::new(provider);
    cmd.env(MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE)
        .env("PLUGIN_PROTOCOL_VERSIONS", "6")
        .env("PLUGIN_MIN_PORT", "10000")
        .env("PLUGIN_MAX_PORT", "25000")
        .env_remove("PLUGIN_CLIENT_CERT")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if let Some(cert) = client_cert {
        cmd.env("PLUGIN_CLIENT_CERT", cert);
    }
    let started = Instant::now();
    let mut child = cmd.spawn().context("starting the provider")?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().context("provider stdout")?).read_line(&mut line)?;
    let elapsed = started.elapsed();
    child.kill().ok();
    child.wait().ok();
    if !line.starts_with("1|6|tcp|") {
        bail!("unexpected handshake line {line:?}");
    }
    Ok(elapsed)
}

#[derive(Clone, Copy)]
enum Kind {
    Workbench,
    TerraformData,
}

/// Wall-clock and CPU time of one terraform command.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Sample {
    wall: Duration,
    cpu: Duration,
}

struct Timings {
    plan: Sample,
    apply: Sample,
    noop: Sample,
    /// Size of the state file after apply.
    state_bytes: u64,
}

/// User + system CPU time of this process's terminated, waited-for children (terraform and,
/// through it, the provider processes it waited for), from `/proc/self/stat`.
fn children_cpu() -> Duration {
    // Fields after the parenthesised command name; cutime and cstime are fields 16 and 17.
    let ticks = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let rest = s.rsplit_once(')')?.1.to_owned();
            let f: Vec<u64> = rest
                .split_whitespace()
                .skip(13)
                .take(2)
                .filter_map(|v| v.parse().ok())
                .collect();
            Some(f.iter().sum::<u64>())
        })
        .unwrap_or(0);
    // USER_HZ is 100 on every Linux architecture terraform runs on.
    Duration::from_millis(ticks * 10)
}

/// Runs `f` (one terraform command) and returns its outcome with the time it took.
fn timed<T>(f: impl FnOnce() -> Result<T>) -> Result<(T, Sample)> {
    let cpu = children_cpu();
    let started = Instant::now();
    let out = f()?;
    Ok((
        out,
        Sample {
            wall: started.elapsed(),
            cpu: children_cpu().saturating_sub(cpu),
        },
    ))
}

fn config(ws: &Workspace, kind: Kind, n: usize) -> String {
    match kind {
        Kind::Workbench => format!(
            r#"{}resource "ipai_workbench" "bench" {{
  count = {n}
  name  = "wb-${{count.index}}"
}}
"#,
            ProviderBlock::new(&ws.output_dir()).files_only().hcl()
        ),
        Kind::TerraformData => format!(
            r#"resource "terraform_data" "bench" {{
  count = {n}
  input = "wb-${{count.index}}"
}}
"#
        ),
    }
}

fn measure(
    terraform: &Path,
    provider: &Path,
    kind: Kind,
    n: usize,
    repeat: usize,
) -> Result<Timings> {
    let (mut plans, mut applies, mut noops) = (Vec::new(), Vec::new(), Vec::new());
    let mut state_bytes = 0;
    for _ in 0..repeat.max(1) {
        let ws = Workspace::with(terraform, provider)?;
        ws.write_config(&config(&ws, kind, n))?;
        plans.push(timed(|| ws.run_ok(&["plan", "-no-color"]))?.1);
        applies.push(timed(|| ws.apply())?.1);
        state_bytes = std::fs::metadata(ws.path().join("terraform.tfstate"))?.len();
        let (noop, sample) = timed(|| ws.plan())?;
        if noop.code != 0 {
            bail!("the plan after apply is not empty:\n{noop}");
        }
        noops.push(sample);
    }
    for samples in [&mut plans, &mut applies, &mut noops] {
        samples.sort();
    }
    Ok(Timings {
        plan: percentile(&plans, 50),
        apply: percentile(&applies, 50),
        noop: percentile(&noops, 50),
        state_bytes,
    })
}

fn percentile<T: Copy>(sorted: &[T], p: usize) -> T {
    sorted[(sorted.len() - 1) * p / 100]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn secs(d: Duration) -> String {
    format!("{:.3} s", d.as_secs_f64())
}
