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
    tls: Option<Tls>,
}

/// Where Debian's `postgresql-15-cron` installs the pg_cron library.
pub const PG_CRON_LIB: &str = "/usr/lib/postgresql/15/lib/pg_cron.so";

/// How a [`TestPostgres`] started with [`TestPostgres::start_tls`] does TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tls {
    /// `ssl=on`; plain-text connections are still accepted.
    Offered,
    /// `ssl=on` and `pg_hba.conf` has `hostssl` lines only: plain text over TCP is refused.
    Required,
    /// Like [`Tls::Required`], and every TCP connection must also present a client
    /// certificate signed by the CA and naming its user (`clientcert=verify-full`);
    /// [`TestPostgres::client_cert_files`] holds one for `postgres`.
    ClientCertificate,
}

/// A CA, a server certificate it signed for `localhost` and `127.0.0.1` and a client
/// certificate it signed for the user `postgres`, made at test time (PEM).
#[derive(Debug, Clone)]
pub struct TestPki {
    /// The CA certificate.
    pub ca: String,
    /// The server's certificate.
    pub server_cert: String,
    /// The server's private key.
    pub server_key: String,
    /// The client certificate (common name `postgres`).
    pub client_cert: String,
    /// The client's private key.
    pub client_key: String,
}

/// A CA and a server certificate it signed for `localhost` and `127.0.0.1`, made at test
/// time: (CA PEM, server certificate PEM, server key PEM).
pub fn test_certificates() -> Result<(String, String, String)> {
    let pki = test_pki()?;
    Ok((pki.ca, pki.server_cert, pki.server_key))
}

/// A new [`TestPki`].
pub fn test_pki() -> Result<TestPki> {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
        KeyPair, KeyUsagePurpose,
    };
    let ca_key = KeyPair::generate()?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "ipai test CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = ca_params.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])?;
    params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let cert = params.signed_by(&key, &issuer)?;
    let client_key = KeyPair::generate()?;
    let mut client = CertificateParams::new(Vec::<String>::new())?;
    client
        .distinguished_name
        .push(DnType::CommonName, "postgres");
    client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let client_cert = client.signed_by(&client_key, &issuer)?;
    Ok(TestPki {
        ca: ca.pem(),
        server_cert: cert.pem(),
        server_key: key.serialize_pem(),
        client_cert: client_cert.pem(),
        client_key: client_key.serialize_pem(),
    })
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

    /// Initialises, starts and bootstraps a cluster without TLS.
    pub fn start() -> Result<Self> {
        Self::start_with(None)
    }

    /// Like [`TestPostgres::start`], with `ssl=on` and a certificate for `localhost` and
    /// `127.0.0.1` signed by a CA made now ([`TestPostgres::ca_file`]).
    pub fn start_tls(tls: Tls) -> Result<Self> {
        Self::start_with(Some(tls))
    }

    /// Like [`TestPostgres::start`], with pg_cron loaded (`shared_preload_libraries`) for
    /// database `postgres`, as on Supabase: `CREATE EXTENSION pg_cron` then installs it.
    pub fn start_with_pg_cron() -> Result<Self> {
        if !Path::new(PG_CRON_LIB).exists() {
            bail!("pg_cron is not installed at {PG_CRON_LIB} (apt-get install postgresql-15-cron)");
        }
        Self::start_opts(
            None,
            " -c shared_preload_libraries=pg_cron -c cron.database_name=postgres",
        )
    }

    fn start_with(tls: Option<Tls>) -> Result<Self> {
        Self::start_opts(tls, "")
    }

    /// Starts a cluster with `extra` appended to the server's options.
    fn start_opts(tls: Option<Tls>, extra: &str) -> Result<Self> {
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
            tls,
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
        let mut ssl = String::new();
        if let Some(tls) = tls {
            ssl = pg.write_tls_files(tls)?;
        }
        let mut last = None;
        for _ in 0..5 {
            pg.port = free_port()?;
            let opts = format!(
                "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=50{ssl}{extra}",
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

    /// Writes the CA, the server's certificate and key (the key readable by the server's
    /// user only, as PostgreSQL demands) and for [`Tls::Required`] a `pg_hba.conf` without
    /// plain-text TCP; returns the server options that turn TLS on.
    fn write_tls_files(&self, tls: Tls) -> Result<String> {
        use std::os::unix::fs::PermissionsExt;
        let pki = test_pki()?;
        let (cert, key) = (pki.server_cert, pki.server_key);
        std::fs::write(self.ca_file(), pki.ca)?;
        let (client_cert, client_key) = self.client_cert_files();
        std::fs::write(&client_cert, pki.client_cert)?;
        std::fs::write(&client_key, pki.client_key)?;
        // Owned by this process's user, as libpq and the provider demand of a key.
        std::fs::set_permissions(&client_key, std::fs::Permissions::from_mode(0o600))?;
        let (cert_file, key_file) = (
            self.dir.path().join("server.crt"),
            self.dir.path().join("server.key"),
        );
        std::fs::write(&cert_file, cert)?;
        std::fs::write(&key_file, key)?;
        std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600))?;
        if self.as_postgres_user {
            for f in [&cert_file, &key_file] {
                std::os::unix::fs::chown(f, Some(id_of("-u")?), Some(id_of("-g")?))?;
            }
        }
        let client_check = match tls {
            Tls::Offered => None,
            Tls::Required => Some(""),
            Tls::ClientCertificate => Some(" clientcert=verify-full"),
        };
        if let Some(check) = client_check {
            std::fs::write(
                self.data().join("pg_hba.conf"),
                format!(
                    "local all all trust\nhostssl all all 127.0.0.1/32 trust{check}\n\
                     hostssl all all ::1/128 trust{check}\n"
                ),
            )?;
        }
        // The CA client certificates are checked against; set, the server asks for one.
        let client_ca = match tls {
            Tls::ClientCertificate => format!(" -c ssl_ca_file={}", self.ca_file().display()),
            _ => String::new(),
        };
        Ok(format!(
            " -c ssl=on -c ssl_cert_file={} -c ssl_key_file={}{client_ca}",
            cert_file.display(),
            key_file.display(),
        ))
    }

    /// The client certificate and key files for the user `postgres`, signed by the CA of
    /// [`TestPostgres::ca_file`] (TLS clusters only; the key is mode 0600).
    pub fn client_cert_files(&self) -> (PathBuf, PathBuf) {
        (
            self.dir.path().join("client.crt"),
            self.dir.path().join("client.key"),
        )
    }

    /// The PEM file of the CA that signed the server's certificate (TLS clusters only).
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.crt")
    }

    /// URL of `postgres` on database `postgres` at `host` with the query `params`
    /// (e.g. `sslmode=require`), for tests choosing their own connection settings.
    pub fn url_with(&self, host: &str, params: &str) -> String {
        format!("postgres://postgres@{host}:{}/postgres?{params}", self.port)
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

    /// Connection URL of `user` on database `db` (TLS without checking the certificate on
    /// a cluster that requires it, plain text otherwise; with the client certificate of
    /// `postgres` on a cluster that requires one).
    pub fn url_of(&self, db: &str, user: &str) -> String {
        let mode = match self.tls {
            Some(Tls::Required) => "require".to_owned(),
            Some(Tls::ClientCertificate) => {
                let (cert, key) = self.client_cert_files();
                format!(
                    "require&sslcert={}&sslkey={}",
                    cert.display(),
                    key.display()
                )
            }
            _ => "disable".to_owned(),
        };
        format!(
            "postgres://{user}@127.0.0.1:{}/{db}?sslmode={mode}",
            self.port
        )
    }

    /// Creates the superuser `role` with `password` and makes every TCP login but
    /// `postgres`'s authenticate with a password (`scram-sha-256`, as Supabase does); returns
    /// once the server refuses `role` without its password.
    pub fn require_password(&self, role: &str, password: &str) -> Result<()> {
        self.psql(&format!(
            "CREATE ROLE \"{role}\" LOGIN SUPERUSER PASSWORD '{}'",
            password.replace('\'', "''")
        ))?;
        let host = match self.tls {
            Some(_) => "hostssl",
            None => "host",
        };
        std::fs::write(
            self.data().join("pg_hba.conf"),
            format!(
                "local all all trust\n{host} all postgres 127.0.0.1/32 trust\n\
                 {host} all all 127.0.0.1/32 scram-sha-256\n"
            ),
        )?;
        self.psql("SELECT pg_reload_conf()")?;
        // The postmaster rereads pg_hba.conf when the signal arrives: wait for it.
        let started = std::time::Instant::now();
        loop {
            let out = Command::new(Path::new(PG_BIN).join("psql"))
                .args(["-X", "-w", "-At", "-c", "SELECT 1", "-d"])
                .arg(format!(
                    "postgres://{role}@127.0.0.1:{}/postgres?sslmode=prefer",
                    self.port
                ))
                .env_remove("PGPASSWORD")
                .env("PGPASSFILE", "/nonexistent")
                .stdin(Stdio::null())
                .output()
                .context("running psql")?;
            if !out.status.success() {
                return Ok(());
            }
            if started.elapsed() > std::time::Duration::from_secs(10) {
                bail!("the server still lets {role} in without a password");
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
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

/// Where Debian's `pgbouncer` installs its binary.
pub const PGBOUNCER_BIN: &str = "/usr/sbin/pgbouncer";

/// PgBouncer in transaction pooling mode in front of a [`TestPostgres`], as Supabase's
/// pooler on port 6543 behaves: a server connection belongs to a client only for one
/// transaction. Every release runs `DEALLOCATE ALL`, so a named prepared statement never
/// outlives its transaction, whichever server connection the next one gets (Debian's
/// PgBouncer 1.18 does not track prepared statements at all). Stopped on drop.
#[derive(Debug)]
pub struct TestPgBouncer {
    dir: tempfile::TempDir,
    port: u16,
    child: std::process::Child,
}

impl TestPgBouncer {
    /// True when `pgbouncer` is installed.
    pub fn available() -> bool {
        Path::new(PGBOUNCER_BIN).exists()
    }

    /// Starts PgBouncer on a free loopback port for database `postgres` of `pg`, trusting
    /// the users `postgres` and `authenticator`.
    pub fn start(pg: &TestPostgres) -> Result<Self> {
        if !Self::available() {
            bail!("PgBouncer is not installed at {PGBOUNCER_BIN} (apt-get install pgbouncer)");
        }
        let dir = tempfile::Builder::new()
            .prefix("ipai-pgbouncer-")
            .tempdir()?;
        std::fs::write(
            dir.path().join("userlist.txt"),
            "\"postgres\" \"\"\n\"authenticator\" \"\"\n",
        )?;
        let mut last = None;
        for _ in 0..5 {
            let port = free_port()?;
            let ini = dir.path().join("pgbouncer.ini");
            std::fs::write(
                &ini,
                format!(
                    "[databases]\n\
                     postgres = host=127.0.0.1 port={pg_port} dbname=postgres\n\
                     [pgbouncer]\n\
                     listen_addr = 127.0.0.1\n\
                     listen_port = {port}\n\
                     unix_socket_dir =\n\
                     auth_type = trust\n\
                     auth_file = {dir}/userlist.txt\n\
                     pool_mode = transaction\n\
                     default_pool_size = 4\n\
                     server_reset_query = DEALLOCATE ALL\n\
                     server_reset_query_always = 1\n\
                     ignore_startup_parameters = extra_float_digits\n\
                     logfile = {dir}/pgbouncer.log\n",
                    pg_port = pg.port(),
                    dir = dir.path().display(),
                ),
            )?;
            if pg.as_postgres_user {
                for f in ["", "pgbouncer.ini", "userlist.txt"] {
                    std::os::unix::fs::chown(
                        dir.path().join(f),
                        Some(id_of("-u")?),
                        Some(id_of("-g")?),
                    )?;
                }
            }
            // PgBouncer refuses to run as root, like postgres.
            let mut cmd = if pg.as_postgres_user {
                let mut c = Command::new("runuser");
                c.args(["-u", "postgres", "--", PGBOUNCER_BIN]);
                c
            } else {
                Command::new(PGBOUNCER_BIN)
            };
            let mut child = cmd
                .arg(&ini)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .context("starting pgbouncer")?;
            let mut bouncer = None;
            for _ in 0..100 {
                if let Some(status) = child.try_wait()? {
                    last = Some(anyhow::anyhow!(
                        "pgbouncer exited with {status}: {}",
                        std::fs::read_to_string(dir.path().join("pgbouncer.log"))
                            .unwrap_or_default()
                    ));
                    break;
                }
                if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    bouncer = Some(port);
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            match bouncer {
                Some(port) => return Ok(Self { dir, port, child }),
                None => {
                    let _ = child.kill();
                    let _ = child.wait();
                    last.get_or_insert_with(|| {
                        anyhow::anyhow!("pgbouncer did not listen within 5 s")
                    });
                }
            }
        }
        Err(last.unwrap_or_else(|| anyhow::anyhow!("pgbouncer did not start")))
    }

    /// Connection URL of `user` through the pooler, on database `postgres`.
    pub fn url_as(&self, user: &str) -> String {
        format!(
            "postgres://{user}@127.0.0.1:{}/postgres?sslmode=disable",
            self.port
        )
    }

    /// The pooler's log so far, for a failing assertion's message.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("pgbouncer.log")).unwrap_or_default()
    }
}

impl Drop for TestPgBouncer {
    fn drop(&mut self) {
        // runuser passes SIGTERM on to pgbouncer, which then exits.
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
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

/// Applies the `ip_workbench` metadata schema of `workbench` through `db`, as the provider
/// does before a layer's first migration.
pub async fn apply_metadata(
    db: &mut ipai_provider::postgres::Postgres,
    workbench: &str,
    r: &ipai_codegen::Renderer,
) -> Result<()> {
    let meta = ipai_codegen::supabase::metadata_migration(r)?;
    db.apply(
        workbench,
        ipai_codegen::supabase::METADATA_RESOURCE,
        &[meta],
    )
    .await?;
    Ok(())
}
