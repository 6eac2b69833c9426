//! The postgres applier: runs codegen's migrations against the workbench's database.
//!
//! Each migration runs in its own transaction that first takes the workbench's advisory lock
//! (`pg_advisory_xact_lock` on a hash of the workbench name), so two applies never
//! interleave, then checks the ledger `ip_workbench.migrations`, runs the SQL and records it.
//! Any failure rolls the transaction back: the database is exactly as before. The applier
//! generates no DDL; it only reads the catalog and writes the ledger.

mod catalog;

use std::sync::Arc;

use ipai_codegen::Migration;
use ipai_codegen::spec::medallion::Layer;
use ipai_codegen::supabase::model::LayerModel;
use tokio_postgres::config::SslMode;
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
    /// Connecting failed.
    #[error("connecting to the database failed: {0}")]
    Connect(#[source] tokio_postgres::Error),
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

/// Result with this module's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A connection to the workbench's database.
pub struct Postgres {
    client: Client,
}

impl std::fmt::Debug for Postgres {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Postgres").finish_non_exhaustive()
    }
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

fn tls_config() -> Result<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Tls(e.to_string()))
        .map(|b| b.with_root_certificates(roots).with_no_client_auth())
}

impl Postgres {
    /// Connects to `url` (`postgres://…` or key=value). `sslmode=require` (what Supabase's
    /// pooler on 6543 and direct endpoint on 5432 need) uses rustls with the webpki roots;
    /// `disable` connects in plain text, as for a local server.
    pub async fn connect(url: &str) -> Result<Self> {
        let config: Config = url.parse().map_err(|e: tokio_postgres::Error| {
            // The parser's message never echoes the URL, so no password leaks into it.
            Error::Url(e.to_string())
        })?;
        let client = if config.get_ssl_mode() == SslMode::Disable {
            let (client, conn) = config
                .connect(tokio_postgres::NoTls)
                .await
                .map_err(Error::Connect)?;
            tokio::spawn(conn);
            client
        } else {
            let tls = tokio_postgres_rustls::MakeRustlsConnect::new(tls_config()?);
            let (client, conn) = config.connect(tls).await.map_err(Error::Connect)?;
            tokio::spawn(conn);
            client
        };
        Ok(Self { client })
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

    async fn apply_one(
        &mut self,
        workbench: &str,
        resource: &str,
        m: &Migration,
        refuse_rows_in: Option<(&str, &[String])>,
    ) -> Result<bool> {
        let tx = self.client.transaction().await?;
        query_rows(
            &tx,
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
            &[&format!("ipai/{workbench}")],
        )
        .await?;
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
        // Checked under the lock: a concurrent apply may have just recorded it.
        if let Some(checksum) = ledger_checksum(&tx, resource, &m.version).await? {
            if checksum == m.checksum {
                return Ok(false);
            }
            return Err(Error::LedgerMismatch {
                resource: resource.to_owned(),
                version: m.version.clone(),
                applied: checksum,
                now: m.checksum.clone(),
            });
        }
        let failed = |e: tokio_postgres::Error| Error::Migration {
            version: m.version.clone(),
            name: m.name.clone(),
            message: describe(&e),
        };
        tx.batch_execute(&m.sql).await.map_err(failed)?;
        tx.execute_typed(
            "INSERT INTO ip_workbench.migrations (resource, version, name, checksum) VALUES ($1, $2, $3, $4)",
            &texts(&[&resource, &m.version, &m.name, &m.checksum]),
        )
        .await
        .map_err(failed)?;
        tx.commit().await.map_err(failed)?;
        Ok(true)
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
