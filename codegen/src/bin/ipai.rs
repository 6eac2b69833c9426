//! `ipai`: the codegen CLI. Renders a workbench bundle (YAML or JSON) into the same files
//! the Terraform provider writes, validates it with positions, prints its JSON Schema.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use ipai_codegen::{
    Diagnostics, Error, Renderer, Severity,
    expand::{expand_bundle, validate_bundle},
    spec::{
        BundleSpec,
        source::{Format, Positions, parse},
    },
};

// mimalloc: expansion allocates many small strings and JSON values; measured ~18% fewer
// instructions than the system allocator on the 1,000-table medallion bench.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Generate the InsightPulseAI workbench's manifests, SQL and cloud objects from a spec file.
#[derive(Parser)]
#[command(name = "ipai", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write the files the provider would write for SPEC into DIR (atomically, only the
    /// files whose bytes change).
    Render {
        /// The bundle spec (`.yaml`, `.yml` or `.json`).
        spec: PathBuf,
        /// Output directory; files land under `DIR/<workbench>/`.
        #[arg(short, long)]
        output: PathBuf,
        /// Directory of templates overriding the embedded ones (same relative names).
        #[arg(long)]
        templates: Option<PathBuf>,
        /// Also delete files under `DIR/<workbench>/` that the spec no longer produces.
        #[arg(long)]
        prune: bool,
    },
    /// Check SPEC and print every problem as FILE:LINE:COL; exits 1 on errors.
    Validate {
        /// The bundle spec (`.yaml`, `.yml` or `.json`).
        spec: PathBuf,
    },
    /// Print the bundle's JSON Schema (for editors: yaml-language-server, VS Code).
    Schema,
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("ipai: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Schema => {
            let schema = schemars::schema_for!(BundleSpec);
            let text = serde_json::to_string_pretty(&schema)?;
            match writeln!(std::io::stdout().lock(), "{text}") {
                // `ipai schema | head` is fine.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
                other => other?,
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Validate { spec } => {
            let Some((bundle, _)) = load(&spec)? else {
                return Ok(ExitCode::FAILURE);
            };
            eprintln!(
                "{}: {} is valid",
                spec.display(),
                bundle.workbench.name.as_str()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Render {
            spec,
            output,
            templates,
            prune,
        } => {
            let Some((bundle, text)) = load(&spec)? else {
                return Ok(ExitCode::FAILURE);
            };
            let renderer = Renderer::new(templates.as_deref())?;
            let files = match expand_bundle(&bundle, &renderer) {
                Ok(exp) => exp.files,
                Err(Error::Invalid(diags)) => {
                    report(&spec, &text, &diags);
                    return Ok(ExitCode::FAILURE);
                }
                Err(e) => return Err(e.into()),
            };
            let (written, removed) = write_tree(&output, &bundle.workbench.name, &files, prune)?;
            eprintln!(
                "{}: {} files, {written} written, {removed} removed",
                output.display(),
                files.len()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Reads, parses and validates a spec, printing every problem. `None` when it has errors.
fn load(path: &Path) -> anyhow::Result<Option<(BundleSpec, String)>> {
    let text =
        fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let bundle: BundleSpec = match parse(&text, Format::of(path)) {
        Ok(b) => b,
        Err(Error::Parse {
            message,
            line,
            column,
        }) => {
            eprintln!(
                "{}:{}:{}: error: {message}",
                path.display(),
                line.unwrap_or(1),
                column.unwrap_or(1)
            );
            return Ok(None);
        }
        Err(e) => return Err(e.into()),
    };
    let diags = validate_bundle(&bundle);
    report(path, &text, &diags);
    Ok((!diags.has_errors()).then_some((bundle, text)))
}

/// Prints diagnostics as `FILE:LINE:COL: severity: path: summary: detail`, in file order.
fn report(path: &Path, text: &str, diags: &Diagnostics) {
    let positions = Positions::of(text);
    let mut lines: Vec<((usize, usize), String)> = diags
        .0
        .iter()
        .map(|d| {
            let at = positions.locate(&d.path).unwrap_or((1, 1));
            let sev = match d.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            };
            let msg = format!(
                "{}:{}:{}: {sev}: {}: {}: {}",
                path.display(),
                at.0,
                at.1,
                d.path,
                d.summary,
                d.detail
            );
            (at, msg)
        })
        .collect();
    lines.sort();
    for (_, line) in lines {
        eprintln!("{line}");
    }
}

/// Writes `files` under `root` atomically (temporary file in the same directory, then a
/// rename), skipping files whose bytes are already right, holding the same advisory lock
/// on `root/<workbench>` as the provider. Returns (files written, files removed).
fn write_tree(
    root: &Path,
    workbench: &str,
    files: &BTreeMap<String, String>,
    prune: bool,
) -> anyhow::Result<(usize, usize)> {
    let wb_dir = root.join(workbench);
    fs::create_dir_all(&wb_dir).with_context(|| format!("cannot create {}", wb_dir.display()))?;
    let lock = fs::File::open(&wb_dir)?;
    lock.lock()
        .with_context(|| format!("cannot lock {}", wb_dir.display()))?;
    let mut written = 0;
    for (rel, contents) in files {
        if !rel.starts_with(&format!("{workbench}/")) || rel.split('/').any(|s| s == "..") {
            bail!("refusing to write {rel:?} outside {}", wb_dir.display());
        }
        let target = root.join(rel);
        if fs::read(&target).is_ok_and(|old| old == contents.as_bytes()) {
            continue;
        }
        let dir = target.parent().unwrap_or(root);
        fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let mut tmp = tempfile::Builder::new().prefix(".ipai-").tempfile_in(dir)?;
        tmp.write_all(contents.as_bytes())?;
        // tempfile creates 0600; generated files are as readable as the provider's.
        tmp.as_file()
            .set_permissions(fs::Permissions::from_mode(0o644))?;
        tmp.persist(&target)
            .with_context(|| format!("cannot write {}", target.display()))?;
        written += 1;
    }
    let mut removed = 0;
    if prune {
        for stale in files_under(&wb_dir)? {
            let rel = stale
                .strip_prefix(root)?
                .to_string_lossy()
                .replace('\\', "/");
            if !files.contains_key(&rel) {
                fs::remove_file(&stale)?;
                removed += 1;
            }
        }
        remove_empty_dirs(&wb_dir)?;
    }
    Ok((written, removed))
}

/// Every file below `dir`, recursively.
fn files_under(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            out.extend(files_under(&path)?);
        } else {
            out.push(path);
        }
    }
    Ok(out)
}

/// Removes the empty directories below `dir` (not `dir` itself).
fn remove_empty_dirs(dir: &Path) -> anyhow::Result<()> {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            remove_empty_dirs(&path)?;
            if fs::read_dir(&path)?.next().is_none() {
                fs::remove_dir(&path)?;
            }
        }
    }
    Ok(())
}
