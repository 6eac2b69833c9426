//! The postgres applier: runs codegen's migrations against the workbench's database.
//!
//! Each migration runs in its own transaction that first takes the workbench's advisory lock
//! (`pg_advisory_xact_lock` on a hash of the workbench name), so two applies never
//! interleave, then checks the ledger `ip_workbench.migrations`, runs the SQL and records it.
//! Any failure rolls the transaction back: the database is exactly as before. The applier
//! generates no DDL; it only reads the catalog and writes the ledger.
//!
//! Connections follow libpq's `sslmode` and its environment variables and password file (see
//! [`conninfo`]), give up after `connect_timeout` (10 s unless the URL or
//! `PGCONNECT_TIMEOUT` says otherwise), and a migration waits at most the lock timeout for
//! the workbench's lock or a table's lock, so a blocked apply fails instead of hanging.

mod catalog;
pub mod conninfo;
pub mod datacheck;
mod tls;

use std::sync::Arc;
use std::time::Duration;

use ipai_codegen::Migration;
use ipai_codegen::spec::medallion::Layer;
use ipai_codegen::supabase::model::LayerModel;
use ipai_codegen::supabase::retention::FoundJob;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, Config, GenericClient, Row};

/// What can go wrong talking to PostgreSQL.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The `database_url` does not parse. The URL itself is never included: it holds a password.
    #[error("database_url is not a valid PostgreSQL connection string: {0}")]
    Url(String),
    /// The TLS setup failed.
    #[error("TLS setup for the database connection failed: {0}")]
    Tls(String),
    /// Connecting failed: PostgreSQL's or the TLS layer's reason, and what to check.
    #[error("connecting to the database failed: {0}")]
    Connect(String),
    /// Connecting took longer than `connect_timeout`.
    #[error(
        "connecting to the database timed out after {0:?} (connect_timeout in database_url, \
         else PGCONNECT_TIMEOUT, sets the limit)"
    )]
    ConnectTimeout(Duration),
    /// Another session held the workbench's advisory lock for longer than the lock timeout.
    #[error(
        "another apply holds the workbench lock of {workbench:?} (waited {waited:?}); nothing \
         was changed, try again when it has finished"
    )]
    Locked {
        /// The workbench.
        workbench: String,
        /// How long this apply waited.
        waited: Duration,
    },
    /// A migration failed; its transaction was rolled back.
    #[error(
        "migration {version}_{name} failed and was rolled back, the database is unchanged: {message}"
    )]
    Migration {
        /// Migration version.
        version: String,
        /// Migration name.
        name: String,
        /// PostgreSQL's message, with detail and hint when it gave them.
        message: String,
    },
    /// The ledger records a different checksum for a version: the migration was edited after
    /// it was applied.
    #[error(
        "ledger mismatch for {resource} version {version}: applied with checksum {applied}, now {now}"
    )]
    LedgerMismatch {
        /// Resource id.
        resource: String,
        /// Version.
        version: String,
        /// Checksum in the ledger.
        applied: String,
        /// Checksum of the migration now.
        now: String,
    },
    /// Dropping tables that still hold rows without `force_destroy`.
    #[error("tables still hold rows: {0}; set force_destroy = true to drop them anyway")]
    NotEmpty(String),
    /// A rehearsal (see [`Postgres::rehearse`]) waited longer than its lock timeout for a
    /// lock another session holds on one of the layer's tables or views.
    #[error(
        "learning the text PostgreSQL gives the layer's expressions takes a brief lock on its \
         tables and views, and another session held one for longer than {waited:?} \
         ({message}); nothing was changed, try again when the layer is idle"
    )]
    Busy {
        /// How long the rehearsal waited.
        waited: Duration,
        /// PostgreSQL's message.
        message: String,
    },
    /// Any other query failed.
    #[error("database query failed: {0}")]
    Query(String),
}

impl From<tokio_postgres::Error> for Error {
    fn from(e: tokio_postgres::Error) -> Self {
        Error::Query(describe(&e))
    }
}

/// PostgreSQL's message with its detail and hint, or the client's error.
pub(crate) fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let mut s = format!("{} ({})", db.message(), db.code().code());
            if let Some(d) = db.detail() {
                s.push_str(&format!("; detail: {d}"));
            }
            if let Some(h) = db.hint() {
                s.push_str(&format!("; hint: {h}"));
            }
            s
        }
        None => e.to_string(),
    }
}

/// `params`, every one a text parameter. Every parameterised statement here goes out as an
/// unnamed statement (`query_typed`: Parse, Bind and Execute in one round trip): named
/// prepared statements break behind transaction-mode poolers (Supavisor and PgBouncer on
/// Supabase's port 6543), where the next statement may reach another server connection.
fn texts<'a>(params: &[&'a (dyn ToSql + Sync)]) -> Vec<(&'a (dyn ToSql + Sync), Type)> {
    params.iter().map(|p| (*p, Type::TEXT)).collect()
}

/// The rows of `sql` with text `params`, as an unnamed statement (see [`texts`]).
async fn query_rows(
    client: &impl GenericClient,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Vec<Row>> {
    Ok(client.query_typed(sql, &texts(params)).await?)
}

/// The one row of `sql` with text `params`, as an unnamed statement (see [`texts`]).
async fn query_row(
    client: &impl GenericClient,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Row> {
    Ok(client.query_typed_one(sql, &texts(params)).await?)
}

/// [`describe`] with the client's causes (tokio-postgres keeps the reason in them).
fn with_causes(e: &tokio_postgres::Error) -> String {
    let mut s = describe(e);
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        let text = c.to_string();
        if !s.contains(&text) {
            s.push_str(&format!(": {text}"));
        }
        cause = c.source();
    }
    s
}

/// Result with this module's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A connection to the workbench's database.
pub struct Postgres {
    client: Client,
    lock_timeout: Duration,
}

impl std::fmt::Debug for Postgres {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Postgres").finish_non_exhaustive()
    }
}

/// The layer as the catalog showed it around a migration (see [`Postgres::apply_observed`]);
/// `None` where nothing of it was there.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    /// Just before the migration's DDL.
    pub before: Option<LayerModel>,
    /// Just after it.
    pub after: Option<LayerModel>,
}

/// A ledger row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    /// Version.
    pub version: String,
    /// Name.
    pub name: String,
    /// Checksum of the SQL that was applied.
    pub checksum: String,
}

/// Connect timeout when `database_url` sets none (libpq waits forever).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a migration waits for the workbench's lock or a table's lock by default.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a rehearsal waits for the workbench's lock or a table's lock at most: it only
/// reads, so it gives way quickly instead of queueing an exclusive lock in front of the
/// layer's readers.
pub const REHEARSAL_LOCK_TIMEOUT: Duration = Duration::from_secs(3);

/// A parsed `database_url` with its TLS configuration, ready to connect. Parsing reads
/// `sslrootcert`, so a bad URL or an unreadable CA file is found before anything runs.
#[derive(Clone)]
pub struct ConnectOptions {
    config: Config,
    ssl_mode: conninfo::SslMode,
    password_from: conninfo::PasswordFrom,
    tls: Option<Arc<rustls::ClientConfig>>,
    connect_timeout: Duration,
    lock_timeout: Duration,
}

impl std::fmt::Debug for ConnectOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The connection string holds a password: only the settings that are not secret.
        f.debug_struct("ConnectOptions")
            .field("ssl_mode", &self.ssl_mode)
            .field("password_from", &self.password_from)
            .field("connect_timeout", &self.connect_timeout)
            .field("lock_timeout", &self.lock_timeout)
            .finish_non_exhaustive()
    }
}

impl ConnectOptions {
    /// Parses `url` (`postgres://…` or key=value, libpq's `sslmode` and `sslrootcert`
    /// included). Errors name the option at fault, never the URL or the password.
    pub fn parse(url: &str) -> Result<Self> {
        Self::parse_in(url, &conninfo::Env::process())
    }

    /// [`ConnectOptions::parse`] with `env` for the environment libpq falls back to (the
    /// `PG*` variables, `~/.postgresql/`, the password file).
    pub fn parse_in(url: &str, env: &conninfo::Env) -> Result<Self> {
        let info = conninfo::parse_in(url, env)?;
        let conninfo::Connection {
            mut config,
            password_from,
        } = conninfo::connection_in(&info.rest, env)?;
        let tls = match info.ssl_mode {
            conninfo::SslMode::Disable => {
                config.ssl_mode(tokio_postgres::config::SslMode::Disable);
                None
            }
            mode => {
                config.ssl_mode(if mode == conninfo::SslMode::Prefer {
                    tokio_postgres::config::SslMode::Prefer
                } else {
                    tokio_postgres::config::SslMode::Require
                });
                Some(Arc::new(tls::client_config(
                    mode,
                    info.root_cert.as_ref(),
                    info.client_cert.as_ref(),
                )?))
            }
        };
        let connect_timeout = config
            .get_connect_timeout()
            .copied()
            .unwrap_or(DEFAULT_CONNECT_TIMEOUT);
        config.connect_timeout(connect_timeout);
        Ok(Self {
            config,
            ssl_mode: info.ssl_mode,
            password_from,
            tls,
            connect_timeout,
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
        })
    }

    /// How long a migration waits for the workbench's lock or a table's lock.
    pub fn with_lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = timeout;
        self
    }

    /// The effective `sslmode`.
    pub fn ssl_mode(&self) -> conninfo::SslMode {
        self.ssl_mode
    }

    /// Connects, giving up after `connect_timeout` per host (TCP, TLS and authentication
    /// together).
    pub async fn connect(&self) -> Result<Postgres> {
        let hosts = self
            .config
            .get_hosts()
            .len()
            .max(self.config.get_hostaddrs().len())
            .max(1);
        let limit = self.connect_timeout * u32::try_from(hosts).unwrap_or(u32::MAX);
        let connecting = async {
            match &self.tls {
                None => {
                    let (client, conn) = self.config.connect(tokio_postgres::NoTls).await?;
                    tokio::spawn(conn);
                    Ok(client)
                }
                Some(tls) => {
                    let tls = tokio_postgres_rustls::MakeRustlsConnect::new((**tls).clone());
                    let (client, conn) = self.config.connect(tls).await?;
                    tokio::spawn(conn);
                    Ok(client)
                }
            }
        };
        let client = tokio::time::timeout(limit, connecting)
            .await
            .map_err(|_| Error::ConnectTimeout(limit))?
            .map_err(|e| Error::Connect(self.explain(&e)))?;
        Ok(Postgres {
            client,
            lock_timeout: self.lock_timeout,
        })
    }

    /// The client's reason with its causes, and for a certificate that failed the check
    /// what the `sslmode` asked for.
    fn explain(&self, e: &tokio_postgres::Error) -> String {
        let mut s = with_causes(e);
        if s.contains("invalid peer certificate") || s.contains("CertNotValid") {
            s.push_str(match self.ssl_mode {
                conninfo::SslMode::VerifyFull => {
                    "; sslmode=verify-full checks that the server's certificate is signed by \
                     a CA of sslrootcert and names the host of database_url"
                }
                _ => {
                    "; the server's certificate must be signed by a CA of sslrootcert \
                     (sslmode=verify-ca, or prefer/require with sslrootcert)"
                }
            });
        }
        if s.contains("password missing") {
            s.push_str(
                "; the server asks for a password: put it in database_url, set PGPASSWORD, or \
                 add a line host:port:database:user:password for this connection to the \
                 password file (PGPASSFILE, else ~/.pgpass, mode 0600)",
            );
        }
        if e.code() == Some(&SqlState::INVALID_PASSWORD) {
            s.push_str(&match &self.password_from {
                conninfo::PasswordFrom::Url => "; the password came from database_url".to_owned(),
                conninfo::PasswordFrom::Env => "; the password came from PGPASSWORD".to_owned(),
                conninfo::PasswordFrom::File(f) => {
                    format!("; the password came from the password file {}", f.display())
                }
                conninfo::PasswordFrom::Nowhere => String::new(),
            });
        }
        if s.contains("requires a valid client certificate") {
            s.push_str(
                "; the server asks for a client certificate: set sslcert and sslkey in \
                 database_url (or PGSSLCERT and PGSSLKEY, or ~/.postgresql/postgresql.crt and \
                 postgresql.key)",
            );
        }
        s
    }
}

impl Postgres {
    /// Connects to `url` (`postgres://…` or key=value) with libpq's `sslmode` semantics;
    /// see [`ConnectOptions`].
    pub async fn connect(url: &str) -> Result<Self> {
        ConnectOptions::parse(url)?.connect().await
    }

    /// The layer `layer` of `schema` as the catalog has it (see [`catalog::introspect`]);
    /// `None` when nothing of it is there.
    pub async fn introspect(
        &self,
        workbench: &str,
        schema: &str,
        layer: Layer,
    ) -> Result<Option<LayerModel>> {
        catalog::introspect(&self.client, workbench, schema, layer).await
    }

    /// Applies `migrations` of `resource` in order, each in its own transaction under the
    /// workbench's advisory lock. Versions already in the ledger with the same checksum are
    /// skipped. Returns the versions applied now.
    pub async fn apply(
        &mut self,
        workbench: &str,
        resource: &str,
        migrations: &[Migration],
    ) -> Result<Vec<String>> {
        let mut applied = Vec::new();
        for m in migrations {
            if self.apply_one(workbench, resource, m, None).await? {
                applied.push(m.version.clone());
            }
        }
        Ok(applied)
    }

    /// Applies `m` (see [`Postgres::apply`]) and, in the same transaction under the lock,
    /// introspects the `layer` of `schema` just before and just after its DDL: what the
    /// catalog held and what the migration made of it.
    pub async fn apply_observed(
        &mut self,
        workbench: &str,
        resource: &str,
        m: &Migration,
        schema: &str,
        layer: Layer,
    ) -> Result<Observed> {
        let observe = Some((schema, layer));
        Ok(self.migrate(workbench, resource, m, None, observe).await?.1)
    }

    async fn apply_one(
        &mut self,
        workbench: &str,
        resource: &str,
        m: &Migration,
        refuse_rows_in: Option<(&str, &[String])>,
    ) -> Result<bool> {
        Ok(self
            .migrate(workbench, resource, m, refuse_rows_in, None)
            .await?
            .0)
    }

    async fn migrate(
        &mut self,
        workbench: &str,
        resource: &str,
        m: &Migration,
        refuse_rows_in: Option<(&str, &[String])>,
        observe: Option<(&str, Layer)>,
    ) -> Result<(bool, Observed)> {
        let lock_timeout = self.lock_timeout;
        let tx = locked(&mut self.client, workbench, lock_timeout).await?;
        if let Some((schema, tables)) = refuse_rows_in {
            let full = non_empty_tables(&tx, schema, tables).await?;
            if !full.is_empty() {
                return Err(Error::NotEmpty(
                    full.iter()
                        .map(|t| format!("{schema}.{t}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                ));
            }
        }
        let failed = |e: tokio_postgres::Error| Error::Migration {
            version: m.version.clone(),
            name: m.name.clone(),
            message: if e.code() == Some(&SqlState::LOCK_NOT_AVAILABLE) {
                format!(
                    "{}; another session held a lock on a table this migration changes for \
                     longer than the lock timeout ({lock_timeout:?})",
                    describe(&e)
                )
            } else {
                describe(&e)
            },
        };
        let mut observed = Observed::default();
        if let Some((schema, layer)) = observe {
            observed.before = catalog::introspect(&tx, workbench, schema, layer).await?;
        }
        // Checked under the lock: a concurrent apply may have just recorded it.
        let applied = match ledger_checksum(&tx, resource, &m.version).await? {
            Some(checksum) if checksum == m.checksum => false,
            Some(checksum) => {
                return Err(Error::LedgerMismatch {
                    resource: resource.to_owned(),
                    version: m.version.clone(),
                    applied: checksum,
                    now: m.checksum.clone(),
                });
            }
            None => {
                tx.batch_execute(&m.sql).await.map_err(failed)?;
                tx.execute_typed(
                    "INSERT INTO ip_workbench.migrations (resource, version, name, checksum) VALUES ($1, $2, $3, $4)",
                    &texts(&[&resource, &m.version, &m.name, &m.checksum]),
                )
                .await
                .map_err(failed)?;
                true
            }
        };
        if let Some((schema, layer)) = observe {
            observed.after = catalog::introspect(&tx, workbench, schema, layer).await?;
        }
        tx.commit().await.map_err(failed)?;
        Ok((applied, observed))
    }

    /// Runs `steps` (statements of one table or view each, from the change planner) in a
    /// transaction under the workbench's lock, then returns the `layer` of `schema` as the
    /// catalog shows it and rolls everything back: what PostgreSQL makes of the steps,
    /// keeping nothing. A step that fails (another layer's view reads a view it drops, rows
    /// break a CHECK rule it adds) is undone alone and the others go on. The steps take
    /// exclusive locks on the tables and views they change until the rollback (adding a
    /// CHECK rule scans its table); each lock is waited for at most
    /// [`REHEARSAL_LOCK_TIMEOUT`] (or the lock timeout, if shorter), then
    /// [`Error::Busy`].
    pub async fn rehearse(
        &mut self,
        workbench: &str,
        steps: &[String],
        schema: &str,
        layer: Layer,
    ) -> Result<Option<LayerModel>> {
        let waited = self.lock_timeout.min(REHEARSAL_LOCK_TIMEOUT);
        let tx = locked(&mut self.client, workbench, waited).await?;
        for step in steps {
            tx.batch_execute("SAVEPOINT ipai_rehearsal").await?;
            match tx.batch_execute(step).await {
                Ok(()) => tx.batch_execute("RELEASE SAVEPOINT ipai_rehearsal").await?,
                Err(e) if e.code() == Some(&SqlState::LOCK_NOT_AVAILABLE) => {
                    return Err(Error::Busy {
                        waited,
                        message: describe(&e),
                    });
                }
                Err(_) => {
                    tx.batch_execute("ROLLBACK TO SAVEPOINT ipai_rehearsal")
                        .await?
                }
            }
        }
        let seen = catalog::introspect(&tx, workbench, schema, layer).await?;
        tx.rollback().await?;
        Ok(seen)
    }

    /// The ledger rows of `resource`, oldest first; empty when there is no ledger yet.
    pub async fn ledger(&self, resource: &str) -> Result<Vec<LedgerEntry>> {
        if !self.ledger_exists().await? {
            return Ok(Vec::new());
        }
        let rows = query_rows(
                &self.client,
                "SELECT version, name, checksum FROM ip_workbench.migrations WHERE resource = $1 ORDER BY version",
                &[&resource],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| LedgerEntry {
                version: r.get(0),
                name: r.get(1),
                checksum: r.get(2),
            })
            .collect())
    }

    async fn ledger_exists(&self) -> Result<bool> {
        let row = query_row(
            &self.client,
            "SELECT to_regclass('ip_workbench.migrations') IS NOT NULL",
            &[],
        )
        .await?;
        Ok(row.get(0))
    }

    /// True when the `pg_cron` extension is installed in this database.
    pub async fn pg_cron_installed(&self) -> Result<bool> {
        let row = query_row(
            &self.client,
            "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron')",
            &[],
        )
        .await?;
        Ok(row.get(0))
    }

    /// The pg_cron job `name` of the current user as `cron.job` shows it (pg_cron must be
    /// installed); `None` when there is none.
    pub async fn cron_job(&self, name: &str) -> Result<Option<FoundJob>> {
        let rows = query_rows(
            &self.client,
            "SELECT schedule, command, active FROM cron.job \
             WHERE jobname = $1 AND username = current_user",
            &[&name],
        )
        .await?;
        Ok(rows.first().map(|r| FoundJob {
            schedule: r.get(0),
            command: r.get(1),
            active: r.get(2),
        }))
    }

    /// Runs `schedule` (codegen's `cron.schedule` of the workbench's purge job) under the
    /// workbench's lock.
    pub async fn schedule_job(&mut self, workbench: &str, schedule: &str) -> Result<()> {
        let tx = locked(&mut self.client, workbench, self.lock_timeout).await?;
        tx.batch_execute(schedule).await?;
        Ok(tx.commit().await?)
    }

    /// Runs `unschedule` (codegen's removal of the workbench's purge job) under the
    /// workbench's lock when `ip_workbench.tables` lists no relation of `workbench` any
    /// more: the job outlives every layer but the last. Returns whether it ran.
    pub async fn unschedule_job_of_last_layer(
        &mut self,
        workbench: &str,
        unschedule: &str,
    ) -> Result<bool> {
        let tx = locked(&mut self.client, workbench, self.lock_timeout).await?;
        let in_use: bool = query_row(
            &tx,
            "SELECT EXISTS (SELECT 1 FROM ip_workbench.tables WHERE workbench = $1)",
            &[&workbench],
        )
        .await?
        .get(0);
        if in_use {
            return Ok(false);
        }
        tx.batch_execute(unschedule).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Tables of `schema` among `tables` that hold at least one row.
    pub async fn non_empty_tables(&self, schema: &str, tables: &[String]) -> Result<Vec<String>> {
        non_empty_tables(&self.client, schema, tables).await
    }

    /// Applies `drop` (the migration dropping a layer), refused while a table of `tables`
    /// holds rows unless `force_destroy`; the check runs under the lock, in the same
    /// transaction as the drop.
    pub async fn drop_layer(
        &mut self,
        workbench: &str,
        resource: &str,
        schema: &str,
        tables: &[String],
        drop: &Migration,
        force_destroy: bool,
    ) -> Result<()> {
        let guard = (!force_destroy).then_some((schema, tables));
        self.apply_one(workbench, resource, drop, guard).await?;
        Ok(())
    }
}

/// A transaction holding the advisory lock of `workbench`, waiting at most `lock_timeout`
/// for it and for any table lock.
async fn locked<'a>(
    client: &'a mut Client,
    workbench: &str,
    lock_timeout: Duration,
) -> Result<tokio_postgres::Transaction<'a>> {
    let tx = client.transaction().await?;
    // SET LOCAL: it ends with the transaction, which a transaction-mode pooler needs.
    tx.batch_execute(&format!(
        "SET LOCAL lock_timeout = {}",
        lock_timeout.as_millis().max(1)
    ))
    .await?;
    let key = format!("ipai/{workbench}");
    tx.query_typed(
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
        &texts(&[&key]),
    )
    .await
    .map_err(|e| {
        if e.code() == Some(&SqlState::LOCK_NOT_AVAILABLE) {
            Error::Locked {
                workbench: workbench.to_owned(),
                waited: lock_timeout,
            }
        } else {
            e.into()
        }
    })?;
    Ok(tx)
}

async fn non_empty_tables(
    client: &impl tokio_postgres::GenericClient,
    schema: &str,
    tables: &[String],
) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for t in tables {
        let exists: bool = query_row(
            client,
            "SELECT to_regclass(format('%I.%I', $1::text, $2::text)) IS NOT NULL",
            &[&schema, t],
        )
        .await?
        .get(0);
        if !exists {
            continue;
        }
        // Quoted by the one quoting function; a read, not DDL.
        let sql = format!(
            "SELECT EXISTS (SELECT 1 FROM {})",
            ipai_codegen::sql::quote_qualified(schema, t)
        );
        if query_row(client, &sql, &[]).await?.get::<_, bool>(0) {
            out.push(t.clone());
        }
    }
    Ok(out)
}

async fn ledger_checksum(
    tx: &tokio_postgres::Transaction<'_>,
    resource: &str,
    version: &str,
) -> Result<Option<String>> {
    let exists: bool = query_row(
        tx,
        "SELECT to_regclass('ip_workbench.migrations') IS NOT NULL",
        &[],
    )
    .await?
    .get(0);
    if !exists {
        return Ok(None);
    }
    let row = tx
        .query_typed_opt(
            "SELECT checksum FROM ip_workbench.migrations WHERE resource = $1 AND version = $2",
            &texts(&[&resource, &version]),
        )
        .await?;
    Ok(row.map(|r| r.get(0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server that accepts the connection and never answers (a firewall that swallows
    /// packets behaves alike): connecting gives up after connect_timeout.
    #[tokio::test]
    async fn connecting_gives_up_after_connect_timeout() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let silent = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                held.push(socket);
            }
        });
        let url = format!("postgres://u:pw@127.0.0.1:{port}/db?sslmode=disable&connect_timeout=1");
        let started = std::time::Instant::now();
        let e = Postgres::connect(&url).await.unwrap_err();
        let waited = started.elapsed();
        assert!(matches!(e, Error::ConnectTimeout(_)), "{e:?}");
        assert!(e.to_string().contains("timed out after 1s"), "{e}");
        assert!(
            (Duration::from_millis(900)..Duration::from_secs(5)).contains(&waited),
            "{waited:?}"
        );
        let default = ConnectOptions::parse("postgres://u@127.0.0.1/db").unwrap();
        assert_eq!(default.connect_timeout, DEFAULT_CONNECT_TIMEOUT);
        silent.abort();
    }
}
