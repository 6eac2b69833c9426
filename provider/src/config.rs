//! The provider configuration (`provider "ipai" { ... }`) and the [`Context`] it
//! configures, which every resource gets.
//!
//! The schema is derived from [`ProviderConfig`] like a resource's from its spec: add a
//! documented field (mark secrets `#[schemars(extend("x-sensitive" = true))]`) and build
//! what it configures in [`Context::configure`].

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use ipai_codegen::spec::WorkbenchSpec;
use ipai_codegen::{AttrPath, Diagnostics, Renderer};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::diagnostics;
use crate::digitalocean::Applier;
use crate::files::FilesTarget;
use crate::git::{self, CommitOptions};
use crate::postgres::{self, ConnectOptions};
use ipai_codegen::digitalocean::parse_duration;

/// Configures where the workbench's generated files go and which templates render them.
#[derive(Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    /// Directory the generated files (Kubernetes manifests, Supabase migrations, the
    /// workbench summary) are written under, one sub-directory per workbench. Created on
    /// the first apply; it must be writable.
    pub output_dir: String,
    /// Directory of templates overriding the embedded ones file by file, with the same
    /// relative names (e.g. `kubernetes/namespace.yaml.hbs`).
    #[serde(default)]
    pub templates_dir: Option<String>,
    /// Commits the generated files to the git repository holding `output_dir` after each
    /// change, for GitOps (Flux or Argo CD then apply them).
    #[serde(default)]
    pub git: Option<GitConfig>,
    /// PostgreSQL connection string of the workbench's Supabase database, a URL
    /// (`postgres://user:password@host:6543/postgres?sslmode=require`) or libpq
    /// `key=value` pairs. When set, `ipai_medallion_layer` applies its migrations there and
    /// reads the catalog back; without it only the migration files are written. Supabase's
    /// pooler in transaction mode (port 6543) and the direct endpoint (5432) both work.
    /// `sslmode` as libpq: `disable` (plain text), `prefer` (default: TLS when offered),
    /// `require` (TLS, certificate not checked), `verify-ca` (TLS, chain checked against
    /// `sslrootcert`), `verify-full` (chain and host name); `sslrootcert` is a PEM file of
    /// CA certificates (with `prefer` or `require` it turns on the `verify-ca` check) or
    /// `system` for the public CAs (with `verify-full` only); `sslcert` and `sslkey` are a
    /// client certificate and its key (PEM, the key file mode 0600) for servers that ask
    /// for one. As libpq, settings the URL leaves out come from `PGSSLMODE`,
    /// `PGSSLROOTCERT`, `PGSSLCERT`, `PGSSLKEY`, then `~/.postgresql/root.crt`,
    /// `postgresql.crt` and `postgresql.key` when present; so do the host, port, database,
    /// user, password and connect timeout from `PGHOST`, `PGPORT`, `PGDATABASE`, `PGUSER`,
    /// `PGPASSWORD` and `PGCONNECT_TIMEOUT`, and a password found in neither comes from the
    /// password file (`PGPASSFILE`, else `~/.pgpass`, mode 0600, libpq's
    /// `host:port:database:user:password` lines), which keeps the password out of the
    /// configuration. What the URL gives always wins. `connect_timeout` is in seconds,
    /// default 10.
    #[serde(default)]
    #[schemars(extend("x-sensitive" = true))]
    pub database_url: Option<String>,
    /// How long a migration waits for another apply of the same workbench (which holds
    /// the workbench's lock) or for a table another session has locked, before it fails
    /// and changes nothing: a duration such as `30s`, `5m` (default `60s`).
    #[serde(default)]
    pub database_lock_timeout: Option<String>,
    /// Generate files only (Kubernetes manifests, Supabase migrations, the workbench
    /// summary) and create nothing in DigitalOcean; no token is needed. Default false:
    /// `ipai_workbench` (and `ipai_ocr_stack`'s GPU node pool) are created in
    /// DigitalOcean, which needs `digitalocean_token` or `DIGITALOCEAN_TOKEN`.
    #[serde(default)]
    pub files_only: bool,
    /// DigitalOcean API token (sensitive; falls back to the `DIGITALOCEAN_TOKEN`
    /// environment variable). `ipai_workbench` creates and manages its DigitalOcean
    /// objects (VPC, DOKS cluster, firewall, registry, DNS records, uptime checks,
    /// project) with it, `ipai_ocr_stack` its GPU node pool on that cluster, and region and
    /// size slugs are checked at plan time. Ignored when `files_only` is true.
    #[serde(default)]
    #[schemars(extend("x-sensitive" = true))]
    pub digitalocean_token: Option<String>,
    /// Base URL of the DigitalOcean API (default `https://api.digitalocean.com`); point it
    /// at a proxy or a simulator for tests.
    #[serde(default)]
    pub api_endpoint: Option<String>,
}

/// `git = { commit = true, author = "...", message = "..." }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GitConfig {
    /// Commit after every apply that changed a workbench's files. Only that workbench's
    /// generated files are committed (whatever else is staged stays staged), and nothing
    /// when they did not change. `output_dir` must be inside a git work tree.
    #[serde(default)]
    pub commit: bool,
    /// Commit author, `Name <email>`; git's configured identity when unset. Also used as
    /// the committer when git has no identity configured (e.g. in CI).
    #[serde(default)]
    pub author: Option<String>,
    /// Commit message; `ipai: update <workbench>` when unset.
    #[serde(default)]
    pub message: Option<String>,
}

impl std::fmt::Debug for ProviderConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token never reaches a log line.
        f.debug_struct("ProviderConfig")
            .field("output_dir", &self.output_dir)
            .field("templates_dir", &self.templates_dir)
            .field("git", &self.git)
            .field("files_only", &self.files_only)
            .field(
                "digitalocean_token",
                &self.digitalocean_token.as_ref().map(|_| "<redacted>"),
            )
            .field("api_endpoint", &self.api_endpoint)
            .field(
                "database_url",
                &self.database_url.as_ref().map(|_| "<redacted>"),
            )
            .field("database_lock_timeout", &self.database_lock_timeout)
            .finish()
    }
}

/// What resources work with once the provider is configured.
#[derive(Debug)]
pub struct Context {
    /// The configuration as given.
    pub config: ProviderConfig,
    /// The files target under `output_dir`.
    pub files: Arc<FilesTarget>,
    renderer: OnceLock<Result<Arc<Renderer>, String>>,
    /// The database connection settings, when `database_url` is set.
    pub database: Option<ConnectOptions>,
    /// The DigitalOcean applier, when a token is configured and not files-only; resources
    /// ask for it through [`Context::digitalocean`] or [`Context::digitalocean_required`].
    digitalocean: Option<Applier>,
    /// What this provider process planned, by type and key: a resource planned in the same
    /// run as one it depends on sees it before its files exist (Terraform plans dependencies
    /// first). See [`Context::note_planned`].
    planned: Mutex<HashMap<(TypeId, String), Arc<dyn Any + Send + Sync>>>,
    /// Whether the `pg_cron` extension is installed in the database, asked once per
    /// provider process (Terraform starts one per command).
    pub pg_cron: tokio::sync::OnceCell<bool>,
}

impl Context {
    /// Records `value` (e.g. a workbench's spec, a layer's summary) as planned in this run
    /// under `key`; a later plan of the same type and key replaces it.
    pub fn note_planned<T: Any + Send + Sync>(&self, key: &str, value: T) {
        self.planned
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert((TypeId::of::<T>(), key.to_owned()), Arc::new(value));
    }

    /// What [`Context::note_planned`] recorded for type `T` under `key` in this run.
    pub fn planned<T: Any + Send + Sync>(&self, key: &str) -> Option<Arc<T>> {
        let value = self
            .planned
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(TypeId::of::<T>(), key.to_owned()))
            .cloned()?;
        value.downcast().ok()
    }

    /// True when `workbench` was planned in this run.
    pub fn workbench_planned(&self, workbench: &str) -> bool {
        self.planned::<WorkbenchSpec>(workbench).is_some()
    }

    /// The region of `workbench` when it was planned in this run.
    pub fn planned_region(&self, workbench: &str) -> Option<String> {
        self.planned::<WorkbenchSpec>(workbench)
            .map(|w| w.region.clone())
    }

    /// Checks the configuration and builds the context. Nothing is written: an
    /// `output_dir` that cannot be created or written is reported on that attribute.
    pub fn configure(config: ProviderConfig) -> Result<Self, Diagnostics> {
        let mut d = Diagnostics::new();
        let output_dir = PathBuf::from(&config.output_dir);
        if let Err(why) = check_writable(&output_dir) {
            d.error(
                AttrPath::attr("output_dir"),
                "Output directory is not writable",
                format!(
                    "The generated files cannot be written under {:?}: {why}. Choose a \
                     directory this user can create files in.",
                    config.output_dir
                ),
            );
        }
        if let Some(t) = &config.templates_dir
            && !Path::new(t).is_dir()
        {
            d.error(
                AttrPath::attr("templates_dir"),
                "Templates directory not found",
                format!("{t:?} is not a directory; it must hold the templates overriding the embedded ones."),
            );
        }
        let git = config.git.as_ref().filter(|g| g.commit);
        if let Some(g) = git {
            check_git(&output_dir, g, &mut d);
        }
        let database = database_options(&config, &mut d);
        let mut digitalocean = None;
        // files_only wins over a token (no diagnostic): the explicit switch beats an
        // ambient credential, and DIGITALOCEAN_TOKEN is often set for the official
        // digitalocean provider in the same configuration.
        let token = (!config.files_only)
            .then(|| crate::digitalocean::Token::resolve(config.digitalocean_token.as_deref()))
            .flatten();
        if let Some(token) = token {
            let mut cfg = crate::digitalocean::ClientConfig::new(token);
            if let Some(e) = &config.api_endpoint {
                if !(e.starts_with("https://") || e.starts_with("http://")) {
                    d.error(
                        AttrPath::attr("api_endpoint"),
                        "Invalid API endpoint",
                        format!(
                            "{e:?} is not an http(s) URL such as https://api.digitalocean.com."
                        ),
                    );
                }
                cfg.endpoint = e.clone();
            }
            match crate::digitalocean::Client::new(cfg) {
                Ok(c) => digitalocean = Some(Applier::new(c)),
                Err(e) => d.error(
                    AttrPath::attr("api_endpoint"),
                    "DigitalOcean client cannot start",
                    e.to_string(),
                ),
            }
        }
        d.into_result(())?;
        let commits = git.map(|g| CommitOptions {
            author: g.author.clone(),
            message: g.message.clone(),
        });
        Ok(Self {
            files: Arc::new(FilesTarget::new(output_dir).with_git(commits)),
            config,
            database,
            renderer: OnceLock::new(),
            digitalocean,
            planned: Mutex::default(),
            pg_cron: tokio::sync::OnceCell::new(),
        })
    }

    /// The applier for `what` (e.g. `ipai_workbench "acc"`), a resource that creates
    /// objects in DigitalOcean: `Ok(None)` when the provider is files-only (create
    /// nothing there), or a diagnostic when there is no token. `recorded`: its state
    /// already records objects there, which files-only must not silently orphan, so they
    /// need the applier (see [`Context::digitalocean_required`]).
    pub fn digitalocean(
        &self,
        what: &str,
        recorded: bool,
    ) -> Result<Option<&Applier>, Diagnostics> {
        if recorded {
            let why = format!("{what} has objects in DigitalOcean (recorded in its state)");
            return self.digitalocean_required(&why, AttrPath::root()).map(Some);
        }
        match &self.digitalocean {
            Some(a) => Ok(Some(a)),
            None if self.config.files_only => Ok(None),
            None => Err(diagnostics::error(
                AttrPath::root(),
                "DigitalOcean token missing",
                format!(
                    "{what} creates objects in DigitalOcean, but the provider has no \
                     digitalocean_token and DIGITALOCEAN_TOKEN is not set. Set \
                     digitalocean_token in the provider block (or export DIGITALOCEAN_TOKEN), \
                     or set files_only = true there to generate the files only and create \
                     nothing in DigitalOcean."
                ),
            )),
        }
    }

    /// The applier for work that must reach DigitalOcean (`why`, a clause such as
    /// `ipai_kubeconfig reads cluster "x"'s credentials from DigitalOcean`), or a
    /// diagnostic on `at` when the provider is files-only or has no token.
    pub fn digitalocean_required(&self, why: &str, at: AttrPath) -> Result<&Applier, Diagnostics> {
        match &self.digitalocean {
            Some(a) => Ok(a),
            None if self.config.files_only => Err(diagnostics::error(
                at,
                "Provider is files-only",
                format!(
                    "{why}, but the provider has files_only = true and makes no DigitalOcean \
                     calls. Set files_only = false; to leave DigitalOcean, destroy the \
                     objects with files_only off first, then turn it on."
                ),
            )),
            None => Err(diagnostics::error(
                at,
                "DigitalOcean token missing",
                format!(
                    "{why}, but the provider has no digitalocean_token and DIGITALOCEAN_TOKEN \
                     is not set. Configure the token."
                ),
            )),
        }
    }

    /// The template renderer, built once per process on first use.
    pub fn renderer(&self) -> Result<Arc<Renderer>, Diagnostics> {
        self.renderer
            .get_or_init(|| {
                Renderer::new(self.config.templates_dir.as_deref().map(Path::new))
                    .map(Arc::new)
                    .map_err(|e| e.to_string())
            })
            .clone()
            .map_err(|e| {
                diagnostics::error(
                    AttrPath::attr("templates_dir"),
                    "Templates cannot be loaded",
                    format!("Loading the templates failed: {e}."),
                )
            })
    }
}

/// The `git` block: a well-formed author, and an `output_dir` inside a git work tree.
fn check_git(output_dir: &Path, g: &GitConfig, d: &mut Diagnostics) {
    let at = AttrPath::attr("git");
    if let Some(a) = &g.author
        && !git::valid_author(a)
    {
        d.error(
            at.at("author"),
            "Invalid commit author",
            format!("{a:?} is not of the form \"Name <email>\"."),
        );
    }
    if let Ok(probe) = existing_ancestor(output_dir)
        && let Err(why) = git::work_tree(probe)
    {
        d.error(
            at.at("commit"),
            "Output directory is not in a git repository",
            format!(
                "git.commit is on, but {:?} is not inside a git work tree ({why}). Run `git init` \
                 in it or a parent, or turn git.commit off.",
                output_dir.display().to_string()
            ),
        );
    }
}

/// The nearest ancestor of `dir` (itself included) that exists, which must be a directory.
fn existing_ancestor(dir: &Path) -> Result<&Path, String> {
    let mut probe = dir;
    loop {
        match std::fs::metadata(probe) {
            Ok(m) if m.is_dir() => return Ok(probe),
            Ok(_) => return Err(format!("{} is not a directory", probe.display())),
            Err(_) => match probe.parent() {
                Some(p) if !p.as_os_str().is_empty() => probe = p,
                _ => return Ok(Path::new(".")),
            },
        }
    }
}

/// The parsed `database_url` with `database_lock_timeout`, or diagnostics on them. The
/// URL holds a password: no message repeats it.
fn database_options(config: &ProviderConfig, d: &mut Diagnostics) -> Option<ConnectOptions> {
    let lock_timeout = match config.database_lock_timeout.as_deref() {
        None => Some(postgres::DEFAULT_LOCK_TIMEOUT),
        Some(t) => match parse_duration(t).filter(|d| !d.is_zero()) {
            Some(d) => Some(d),
            None => {
                d.error(
                    AttrPath::attr("database_lock_timeout"),
                    "Invalid duration",
                    format!("{t:?} is not a duration above zero; write it like 30s, 5m or 1m30s."),
                );
                None
            }
        },
    };
    let url = config.database_url.as_deref()?;
    match ConnectOptions::parse(url) {
        Ok(o) => lock_timeout.map(|t| o.with_lock_timeout(t)),
        Err(e) => {
            d.error(
                AttrPath::attr("database_url"),
                "Invalid database_url",
                format!("{e}."),
            );
            None
        }
    }
}

/// Whether files can be created under `dir`, judged on the nearest existing ancestor,
/// without leaving anything behind.
fn check_writable(dir: &Path) -> Result<(), String> {
    if dir.as_os_str().is_empty() {
        return Err("it is empty".into());
    }
    let probe = existing_ancestor(dir)?;
    tempfile::Builder::new()
        .prefix(".ipai-probe")
        .tempfile_in(probe)
        .map(drop)
        .map_err(|e| format!("creating a file in {} failed: {e}", probe.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(dir: &Path) -> ProviderConfig {
        ProviderConfig {
            output_dir: dir.display().to_string(),
            templates_dir: None,
            git: None,
            database_url: None,
            database_lock_timeout: None,
            files_only: false,
            digitalocean_token: None,
            api_endpoint: None,
        }
    }

    #[test]
    fn a_missing_output_dir_is_fine_and_not_created() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/b");
        Context::configure(config(&dir)).unwrap();
        assert!(!dir.exists());
        assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
    }

    #[test]
    fn an_output_dir_under_a_file_is_reported_on_the_attribute() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("f");
        std::fs::write(&file, "x").unwrap();
        let d = Context::configure(config(&file.join("out"))).unwrap_err();
        assert_eq!(d.0[0].path, AttrPath::attr("output_dir"));
        assert!(
            d.0[0].detail.contains("not a directory"),
            "{}",
            d.0[0].detail
        );
    }

    #[test]
    fn files_only_or_a_token_decides_what_reaches_digitalocean() {
        let tmp = tempfile::tempdir().unwrap();
        let wb = "ipai_workbench \"acc\"";
        let refusal = |ctx: &Context, recorded| {
            let d = ctx.digitalocean(wb, recorded).unwrap_err();
            (d.0[0].summary.clone(), d.0[0].detail.clone())
        };
        let mut c = config(tmp.path());
        c.digitalocean_token = Some("dop_v1_test".into());
        let online = Context::configure(c.clone()).unwrap();
        assert!(online.digitalocean(wb, false).unwrap().is_some());

        // files_only wins over the token, and refuses to orphan recorded objects.
        c.files_only = true;
        let offline = Context::configure(c).unwrap();
        assert!(offline.digitalocean(wb, false).unwrap().is_none());
        let (summary, detail) = refusal(&offline, true);
        assert_eq!(summary, "Provider is files-only");
        assert!(detail.contains("recorded in its state"), "{detail}");

        let neither = Context::configure(config(tmp.path())).unwrap();
        for recorded in [false, true] {
            let (summary, detail) = refusal(&neither, recorded);
            assert_eq!(summary, "DigitalOcean token missing");
            assert!(detail.contains("DIGITALOCEAN_TOKEN"), "{detail}");
        }
        let (_, detail) = refusal(&neither, false);
        assert!(detail.contains("files_only = true"), "{detail}");
    }

    #[test]
    fn a_bad_database_url_is_reported_on_it_without_the_password() {
        let tmp = tempfile::tempdir().unwrap();
        let missing = tmp.path().join("no-such-ca.pem");
        let not_pem = tmp.path().join("ca.txt");
        std::fs::write(&not_pem, "not a certificate").unwrap();
        for (url, expected) in [
            (
                "postgres://app:S3cretPw@db.example.com:6543/postgres?sslmode=verify_full"
                    .to_owned(),
                "sslmode \"verify_full\" is not supported",
            ),
            (
                format!(
                    "postgres://app:S3cretPw@db.example.com/postgres?sslmode=verify-ca&sslrootcert={}",
                    missing.display()
                ),
                "cannot be read",
            ),
            (
                format!(
                    "host=db.example.com password=S3cretPw sslmode=require sslrootcert='{}'",
                    not_pem.display()
                ),
                "holds no PEM certificate",
            ),
            (
                "postgres://app:S3cretPw@db.example.com:x/postgres".to_owned(),
                "invalid value for option `port`",
            ),
            (
                "postgres://app:S3cretPw@db.example.com/postgres?pgbouncer=true".to_owned(),
                "unknown option `pgbouncer`",
            ),
        ] {
            let mut c = config(tmp.path());
            c.database_url = Some(url.clone());
            let d = Context::configure(c).unwrap_err();
            assert_eq!(d.0.len(), 1, "{url}: {d:?}");
            assert_eq!(d.0[0].path, AttrPath::attr("database_url"));
            assert_eq!(d.0[0].summary, "Invalid database_url");
            assert!(d.0[0].detail.contains(expected), "{}", d.0[0].detail);
            let all = format!("{d:?}");
            assert!(
                !all.contains("S3cretPw") && !all.contains("db.example.com"),
                "{all}"
            );
        }
    }

    #[test]
    fn database_settings_are_checked_and_never_printed() {
        let tmp = tempfile::tempdir().unwrap();
        let mut c = config(tmp.path());
        c.database_url = Some("postgres://app:S3cretPw@db.example.com/postgres".into());
        c.database_lock_timeout = Some("2m".into());
        let ctx = Context::configure(c.clone()).unwrap();
        let shown = format!("{ctx:?}");
        assert!(!shown.contains("S3cretPw"), "{shown}");
        assert!(shown.contains("lock_timeout: 120s"), "{shown}");
        c.database_lock_timeout = Some("soon".into());
        let d = Context::configure(c).unwrap_err();
        assert_eq!(d.0[0].path, AttrPath::attr("database_lock_timeout"));
    }

    #[test]
    fn git_commit_needs_a_repository_and_a_well_formed_author() {
        let tmp = tempfile::tempdir().unwrap();
        let mut c = config(&tmp.path().join("out"));
        c.git = Some(GitConfig {
            commit: true,
            author: Some("ipai".into()),
            message: None,
        });
        let d = Context::configure(c.clone()).unwrap_err();
        let paths: Vec<String> = d.0.iter().map(|d| d.path.to_string()).collect();
        assert_eq!(paths, ["git.author", "git.commit"]);

        let init = std::process::Command::new("git")
            .args(["init", "-q"])
            .arg(tmp.path())
            .status()
            .unwrap();
        assert!(init.success());
        c.git.as_mut().unwrap().author = Some("ipai <ipai@example.com>".into());
        Context::configure(c.clone()).unwrap();
        // Off: no repository needed.
        let elsewhere = tempfile::tempdir().unwrap();
        let mut off = config(elsewhere.path());
        off.git = Some(GitConfig {
            commit: false,
            ..c.git.unwrap()
        });
        Context::configure(off).unwrap();
    }
}
