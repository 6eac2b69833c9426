//! A throwaway PostgreSQL 15 for tests: its own data directory in a temporary folder, a free
//! port on 127.0.0.1, the Supabase roles and `auth` functions, stopped and deleted on drop.
//!
//! `initdb` and `postgres` refuse to run as root, so as root they run as the `postgres` user
//! (`runuser -u postgres --`) on a directory that user owns.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

/// Where Debian's `postgresql-15` installs its server binaries.
pub const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

/// Supabase's API roles and `auth` helpers, as PostgREST relies on them: `auth.jwt()` and
/// `auth.uid()` read the `request.jwt.claims` setting PostgREST sets per request. The default
/// privileges mimic older Supabase projects, which granted every new table to the API roles;
/// generated migrations must not depend on them.
pub const SUPABASE_BOOTSTRAP: &str = r#"
CREATE ROLE anon NOLOGIN NOINHERIT;
CREATE ROLE authenticated NOLOGIN NOINHERIT;
CREATE ROLE service_role NOLOGIN NOINHERIT BYPASSRLS;
CREATE ROLE authenticator LOGIN NOINHERIT;
GRANT anon, authenticated, service_role TO authenticator;
CREATE SCHEMA auth;
CREATE FUNCTION auth.jwt() RETURNS jsonb LANGUAGE sql STABLE AS
  $$ SELECT coalesce(nullif(current_setting('request.jwt.claims', true), ''), '{}')::jsonb $$;
CREATE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql STABLE AS
  $$ SELECT nullif(auth.jwt() ->> 'sub', '')::uuid $$;
CREATE FUNCTION auth.role() RETURNS text LANGUAGE sql STABLE AS
  $$ SELECT auth.jwt() ->> 'role' $$;
GRANT USAGE ON SCHEMA auth TO anon, authenticated, service_role;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA auth TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES FOR ROLE postgres GRANT ALL ON TABLES TO anon, authenticated, service_role;
"#;

/// A running throwaway cluster. Dropping it stops the server and deletes its directory.
#[derive(Debug)]
pub struct TestPostgres {
    dir: tempfile::TempDir,
    port: u16,
    as_postgres_user: bool,
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn id_of(flag: &str) -> Result<u32> {
    let out = Command::new("id").args([flag, "postgres"]).output()?;
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .context("the postgres user does not exist (install postgresql-15)")
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl TestPostgres {
    /// True when the PostgreSQL 15 binaries are installed.
    pub fn available() -> bool {
        Path::new(PG_BIN).join("postgres").exists()
    }

    /// Initialises, starts and bootstraps a cluster.
    pub fn start() -> Result<Self> {
        if !Self::available() {
            bail!("PostgreSQL 15 is not installed in {PG_BIN} (apt-get install postgresql-15)");
        }
        let as_postgres_user = is_root();
        let dir = tempfile::Builder::new().prefix("ipai-pg-").tempdir()?;
        if as_postgres_user {
            std::os::unix::fs::chown(dir.path(), Some(id_of("-u")?), Some(id_of("-g")?))?;
        }
        let mut pg = Self {
            dir,
            port: 0,
            as_postgres_user,
        };
        pg.run(
            "initdb",
            &[
                "-D",
                &pg.data().to_string_lossy(),
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ],
        )?;
        let mut last = None;
        for _ in 0..5 {
            pg.port = free_port()?;
            let opts = format!(
                "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=50",
                pg.port,
                pg.dir.path().display()
            );
            let log = pg.dir.path().join("server.log");
            match pg.run(
                "pg_ctl",
                &[
                    "-D",
                    &pg.data().to_string_lossy(),
                    "-o",
                    &opts,
                    "-l",
                    &log.to_string_lossy(),
                    "-w",
                    "-t",
                    "30",
                    "start",
                ],
            ) {
                Ok(()) => {
                    last = None;
                    break;
                }
                // Another process took the port between probing and binding: try another.
                Err(e) => last = Some(e),
            }
        }
        if let Some(e) = last {
            let log = std::fs::read_to_string(pg.dir.path().join("server.log")).unwrap_or_default();
            return Err(e.context(log));
        }
        pg.psql(SUPABASE_BOOTSTRAP)?;
        Ok(pg)
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn run(&self, bin: &str, args: &[&str]) -> Result<()> {
        let path = Path::new(PG_BIN).join(bin);
        let mut cmd = if self.as_postgres_user {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&path);
            c
        } else {
            Command::new(&path)
        };
        let out = cmd
            .args(args)
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("running {bin}"))?;
        if !out.status.success() {
            bail!(
                "{bin} failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(())
    }

    /// The port the server listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Connection URL of the superuser `postgres` on database `postgres`.
    pub fn url(&self) -> String {
        self.url_as("postgres")
    }

    /// Connection URL of `user` (trust authentication) on database `postgres`.
    pub fn url_as(&self, user: &str) -> String {
        self.url_of("postgres", user)
    }

    /// Connection URL of `user` on database `db`.
    pub fn url_of(&self, db: &str, user: &str) -> String {
        format!(
            "postgres://{user}@127.0.0.1:{}/{db}?sslmode=disable",
            self.port
        )
    }

    /// Runs `sql` with `psql -1` (one transaction, stop on the first error) as `postgres`.
    pub fn psql(&self, sql: &str) -> Result<String> {
        self.psql_args(&["-1", "-c", sql])
    }

    /// Runs `psql` with `args` as `postgres`, returning its output.
    pub fn psql_args(&self, args: &[&str]) -> Result<String> {
        let out = Command::new(Path::new(PG_BIN).join("psql"))
            .args([
                "-X",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "-At",
                "-d",
                &self.url(),
            ])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .context("running psql")?;
        if !out.status.success() {
            bail!("psql failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

impl Drop for TestPostgres {
    fn drop(&mut self) {
        let _ = self.run(
            "pg_ctl",
            &[
                "-D",
                &self.data().to_string_lossy(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
        );
    }
}
