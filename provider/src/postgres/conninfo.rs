//! `database_url` as libpq reads it: a `postgres://` URL or `key=value` pairs. tokio-postgres
//! rejects `sslmode=verify-ca`/`verify-full`, `sslrootcert`, `sslcert` and `sslkey`, so those
//! are taken out here and everything else is handed to its parser unchanged.
//!
//! As libpq, a TLS setting the string leaves out comes from the environment (`PGSSLMODE`,
//! `PGSSLROOTCERT`, `PGSSLCERT`, `PGSSLKEY`), then from the default files under
//! `~/.postgresql/`: `root.crt` (the CAs; when present even `prefer` and `require` check the
//! chain), `postgresql.crt` and `postgresql.key` (the client certificate, sent when present).
//! So do the host, port, database, user, password and connect timeout ([`connection_in`]:
//! `PGHOST`, `PGPORT`, `PGDATABASE`, `PGUSER`, `PGPASSWORD`, `PGCONNECT_TIMEOUT`), and a
//! password given nowhere comes from the password file (`PGPASSFILE`, else `~/.pgpass`).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use percent_encoding::percent_decode_str;
use tokio_postgres::Config;
use tokio_postgres::config::Host;

use super::{Error, Result};

/// libpq's `sslmode`: whether the connection is encrypted and what of the server's
/// certificate is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// Plain text.
    Disable,
    /// TLS when the server offers it, plain text otherwise (libpq's default).
    Prefer,
    /// TLS or nothing; the certificate is not checked unless `sslrootcert` is given.
    Require,
    /// TLS, the certificate chain checked against `sslrootcert`, not the host name.
    VerifyCa,
    /// TLS, the chain and the host name checked.
    VerifyFull,
}

impl SslMode {
    const NAMES: &str = "disable, prefer, require, verify-ca or verify-full";

    fn parse(value: &str) -> Result<Self> {
        Ok(match value {
            "disable" => Self::Disable,
            "prefer" => Self::Prefer,
            "require" => Self::Require,
            "verify-ca" => Self::VerifyCa,
            "verify-full" => Self::VerifyFull,
            // libpq's `allow` (plain first, TLS only if refused) would send a password in
            // plain text whenever the server accepts it: not offered.
            other => {
                return Err(Error::Url(format!(
                    "sslmode {other:?} is not supported; use {}",
                    Self::NAMES
                )));
            }
        })
    }
}

/// Where the CA certificates of `verify-ca` and `verify-full` come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootCert {
    /// A PEM file of one or more CA certificates.
    File(PathBuf),
    /// `sslrootcert=system`: the well-known public roots (Mozilla's, from `webpki-roots`).
    System,
}

/// The client certificate sent to a server that asks for one (`clientcert=verify-ca` or
/// `verify-full` in its `pg_hba.conf`, or `cert` authentication).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCert {
    /// `sslcert`: PEM file of the certificate, optionally followed by intermediates.
    pub cert: PathBuf,
    /// `sslkey`: PEM file of its unencrypted private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// The TLS settings of a connection string and the rest of it, for tokio-postgres.
#[derive(Debug, PartialEq, Eq)]
pub struct ConnInfo {
    /// The effective `sslmode`.
    pub ssl_mode: SslMode,
    /// The CAs the server's certificate is checked against, when there are any.
    pub root_cert: Option<RootCert>,
    /// The client certificate, when one is configured or the default one exists.
    pub client_cert: Option<ClientCert>,
    /// The connection string without the options taken out.
    pub rest: String,
}

/// What libpq reads besides the connection string: the `PG*` variables, the home directory
/// holding `.postgresql/` and `.pgpass`, and the operating system's user name.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Env {
    /// Environment variables by name (only those of [`Env::VARS`] are read).
    pub vars: BTreeMap<String, String>,
    /// The user's home directory.
    pub home: Option<PathBuf>,
    /// The operating system's user name: the user (and so the database) the password file
    /// is searched for when neither the string nor `PGUSER` names one, as libpq does.
    pub os_user: Option<String>,
}

impl std::fmt::Debug for Env {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // PGPASSWORD is among the variables: names only.
        f.debug_struct("Env")
            .field("vars", &self.vars.keys().collect::<Vec<_>>())
            .field("home", &self.home)
            .field("os_user", &self.os_user)
            .finish()
    }
}

impl Env {
    /// The variables libpq's settings fall back to that are read here.
    pub const VARS: [&str; 11] = [
        "PGSSLMODE",
        "PGSSLROOTCERT",
        "PGSSLCERT",
        "PGSSLKEY",
        "PGHOST",
        "PGPORT",
        "PGDATABASE",
        "PGUSER",
        "PGPASSWORD",
        "PGCONNECT_TIMEOUT",
        "PGPASSFILE",
    ];

    /// This process's environment, `$HOME` and user name.
    pub fn process() -> Self {
        Self {
            vars: Self::VARS
                .iter()
                .filter_map(|k| Some(((*k).to_owned(), std::env::var(k).ok()?)))
                .collect(),
            home: std::env::var_os("HOME")
                .filter(|h| !h.is_empty())
                .map(PathBuf::from),
            os_user: whoami::username().ok(),
        }
    }

    /// The variable `name` when set and not empty (libpq ignores empty ones).
    fn var(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// `~/.postgresql/<file>` when the home directory is known.
    fn default_file(&self, file: &str) -> Option<PathBuf> {
        self.home.as_ref().map(|h| h.join(".postgresql").join(file))
    }
}

/// A file setting from the connection string, else from the environment variable `var`
/// (an empty one counts as not given, as libpq's file settings).
fn setting(given: Option<String>, env: &Env, var: &str) -> Option<String> {
    given
        .filter(|v| !v.is_empty())
        .or_else(|| env.var(var).map(str::to_owned))
}

/// Splits `url` into its TLS settings (falling back to `env` as libpq does) and the rest.
/// Messages name options, never values other than `sslmode`'s and file paths: the string
/// holds a password.
pub fn parse_in(url: &str, env: &Env) -> Result<ConnInfo> {
    let (rest, pairs) = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        split_url(url)?
    } else {
        split_key_values(url)?
    };
    let mut given = BTreeMap::new();
    for (k, v) in pairs {
        // As libpq: a later repetition wins.
        given.insert(k, v);
    }
    let mut take = |k: Taken| given.remove(&k);
    let mode = match take(Taken::Mode) {
        Some(v) => Some(SslMode::parse(&v)?),
        None => env
            .var("PGSSLMODE")
            .map(|v| {
                SslMode::parse(v).map_err(|e| Error::Url(format!("PGSSLMODE: {}", url_message(e))))
            })
            .transpose()?,
    };
    let explicit_root =
        setting(take(Taken::RootCert), env, "PGSSLROOTCERT").map(|r| match r.as_str() {
            "system" => RootCert::System,
            _ => RootCert::File(PathBuf::from(r)),
        });
    let default_root = env.default_file("root.crt");
    // libpq uses ~/.postgresql/root.crt when it exists, whatever the mode.
    let root_cert = explicit_root.or_else(|| {
        default_root
            .as_deref()
            .filter(|p| p.is_file())
            .map(|p| RootCert::File(p.to_owned()))
    });
    let ssl_mode = match (mode, &root_cert) {
        // As libpq 16: the public roots certify anyone's host, so only the host name check
        // makes them mean something.
        (None, Some(RootCert::System)) => SslMode::VerifyFull,
        (Some(m), Some(RootCert::System)) if m != SslMode::VerifyFull => {
            return Err(Error::Url(format!(
                "sslmode {:?} cannot be used with sslrootcert=system (any public CA would \
                 do): use sslmode=verify-full",
                name(m)
            )));
        }
        (m, _) => m.unwrap_or(SslMode::Prefer),
    };
    if matches!(ssl_mode, SslMode::VerifyCa | SslMode::VerifyFull) && root_cert.is_none() {
        let default = match &default_root {
            Some(p) => format!(
                " (nor PGSSLROOTCERT; the default {} does not exist)",
                p.display()
            ),
            None => " (nor PGSSLROOTCERT)".to_owned(),
        };
        return Err(Error::Url(format!(
            "sslmode={} needs sslrootcert{default}: the path of the CA certificate (PEM) the \
             server's certificate is checked against (Supabase: the project's CA certificate \
             from the dashboard's database settings), or sslrootcert=system for the public CAs",
            name(ssl_mode)
        )));
    }
    let cert = setting(take(Taken::Cert), env, "PGSSLCERT").map(PathBuf::from);
    let key = setting(take(Taken::Key), env, "PGSSLKEY").map(PathBuf::from);
    // A named certificate must be there; the default one is sent only when it exists.
    let cert = cert.or_else(|| env.default_file("postgresql.crt").filter(|p| p.is_file()));
    let client_cert = match cert {
        None => None,
        Some(cert) => match key.or_else(|| env.default_file("postgresql.key")) {
            Some(key) => Some(ClientCert { cert, key }),
            None => {
                return Err(Error::Url(format!(
                    "sslcert {} needs sslkey: the file of its private key",
                    cert.display()
                )));
            }
        },
    };
    Ok(ConnInfo {
        ssl_mode,
        root_cert,
        // Files that plain text never reads.
        client_cert: client_cert.filter(|_| ssl_mode != SslMode::Disable),
        rest,
    })
}

/// The message of an [`Error::Url`], without the prefix its display adds.
fn url_message(e: Error) -> String {
    match e {
        Error::Url(m) => m,
        other => other.to_string(),
    }
}

/// Where the password of a connection came from, named when the server refuses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordFrom {
    /// The connection string.
    Url,
    /// `PGPASSWORD`.
    Env,
    /// A line of this password file.
    File(PathBuf),
    /// Nowhere: connecting works only when the server asks for none.
    Nowhere,
}

/// The settings tokio-postgres connects with, and where the password came from.
#[derive(Debug)]
pub struct Connection {
    /// [`ConnInfo::rest`] parsed, with what it leaves out filled in as libpq does.
    pub config: Config,
    /// Where the password came from.
    pub password_from: PasswordFrom,
}

/// Parses `rest` (see [`ConnInfo::rest`]) with tokio-postgres, then fills each part it leaves
/// out from `env` as libpq does: host (`PGHOST`, when neither `host` nor `hostaddr` is
/// given), port (`PGPORT`), database (`PGDATABASE`), user (`PGUSER`), connect timeout
/// (`PGCONNECT_TIMEOUT`) and password (`PGPASSWORD`, else the password file). Messages name
/// options and variables, never a password.
pub fn connection_in(rest: &str, env: &Env) -> Result<Connection> {
    let mut config: Config =
        with_env_port(rest, env)?
            .parse()
            .map_err(|e: tokio_postgres::Error| {
                // The parser's messages name options, never values: no password leaks.
                Error::Url(super::with_causes(&e))
            })?;
    if config.get_hosts().is_empty()
        && config.get_hostaddrs().is_empty()
        && let Some(from_env) = option_from(env, "PGHOST", "host")?
    {
        for host in from_env.get_hosts() {
            match host {
                Host::Tcp(name) => config.host(name),
                #[cfg(unix)]
                Host::Unix(dir) => config.host_path(dir),
            };
        }
    }
    if config.get_ports().is_empty()
        && let Some(from_env) = option_from(env, "PGPORT", "port")?
    {
        for port in from_env.get_ports() {
            config.port(*port);
        }
    }
    if config.get_dbname().is_none()
        && let Some(db) = env.var("PGDATABASE")
    {
        config.dbname(db);
    }
    if config.get_user().is_none()
        && let Some(user) = env.var("PGUSER")
    {
        config.user(user);
    }
    if config.get_connect_timeout().is_none()
        && let Some(from_env) = option_from(env, "PGCONNECT_TIMEOUT", "connect_timeout")?
        && let Some(timeout) = from_env.get_connect_timeout()
    {
        config.connect_timeout(*timeout);
    }
    // As libpq, an empty password is no password.
    let password_from = if config.get_password().is_some_and(|p| !p.is_empty()) {
        PasswordFrom::Url
    } else if let Some(password) = env.var("PGPASSWORD") {
        config.password(password);
        PasswordFrom::Env
    } else if let Some((file, password)) = password_from_file(&config, env) {
        config.password(password);
        PasswordFrom::File(file)
    } else {
        PasswordFrom::Nowhere
    };
    Ok(Connection {
        config,
        password_from,
    })
}

/// `rest` with `PGPORT`'s port after each of its hosts when it is a URL that names hosts but
/// no port: tokio-postgres reads such a host as port 5432, where libpq takes `PGPORT`.
fn with_env_port<'a>(rest: &'a str, env: &Env) -> Result<Cow<'a, str>> {
    let Some(after) = ["postgres://", "postgresql://"]
        .iter()
        .find_map(|p| rest.strip_prefix(p))
    else {
        return Ok(rest.into());
    };
    let Some(from_env) = option_from(env, "PGPORT", "port")? else {
        return Ok(rest.into());
    };
    let ports = from_env.get_ports();
    // Where tokio-postgres looks: the credentials end at the first `@`, the hosts at the
    // next `/` or `?`.
    let start = rest.len() - after.len() + after.find('@').map_or(0, |i| i + 1);
    let end = rest[start..]
        .find(['/', '?'])
        .map_or(rest.len(), |i| start + i);
    let hosts = &rest[start..end];
    let query = rest[end..].split_once('?').map_or("", |(_, q)| q);
    let port_given = hosts
        .split(',')
        .any(|h| h.rsplit_once(']').map_or(h, |(_, port)| port).contains(':'))
        || query
            .split('&')
            .any(|p| p.split_once('=').map_or(p, |(k, _)| k) == "port");
    if hosts.is_empty() || port_given {
        return Ok(rest.into());
    }
    let hosts: Vec<&str> = hosts.split(',').collect();
    if ports.len() != 1 && ports.len() != hosts.len() {
        return Err(Error::Url(format!(
            "PGPORT: {} ports for {} hosts (give one port, or one per host)",
            ports.len(),
            hosts.len()
        )));
    }
    let with_ports: Vec<String> = hosts
        .iter()
        .zip(ports.iter().cycle())
        .map(|(h, p)| format!("{h}:{p}"))
        .collect();
    Ok(format!("{}{}{}", &rest[..start], with_ports.join(","), &rest[end..]).into())
}

/// The variable `var` read as tokio-postgres reads the option `key` (lists, socket
/// directories, numbers), so the two mean the same; `None` when it is unset or empty.
fn option_from(env: &Env, var: &str, key: &str) -> Result<Option<Config>> {
    env.var(var)
        .map(|value| {
            format!("{key}={}", quote(value))
                .parse::<Config>()
                .map_err(|e| Error::Url(format!("{var}: {}", super::with_causes(&e))))
        })
        .transpose()
}

/// Unix socket directories libpq matches as `localhost` in the password file (PostgreSQL's
/// default, and Debian's).
const DEFAULT_SOCKET_DIRS: [&str; 2] = ["/tmp", "/var/run/postgresql"];

/// The password file's password for `config`'s first host, port, database and user, with
/// the file it came from.
fn password_from_file(config: &Config, env: &Env) -> Option<(PathBuf, Vec<u8>)> {
    let file = env
        .var("PGPASSFILE")
        .map(PathBuf::from)
        .or_else(|| env.home.as_ref().map(|h| h.join(".pgpass")))?;
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(name)) => name.clone(),
        #[cfg(unix)]
        Some(Host::Unix(dir)) if DEFAULT_SOCKET_DIRS.iter().any(|d| dir == Path::new(d)) => {
            "localhost".to_owned()
        }
        #[cfg(unix)]
        Some(Host::Unix(dir)) => dir.display().to_string(),
        None => config
            .get_hostaddrs()
            .first()
            .map_or_else(|| "localhost".to_owned(), ToString::to_string),
    };
    let port = config
        .get_ports()
        .first()
        .copied()
        .unwrap_or(5432)
        .to_string();
    let user = config
        .get_user()
        .map(str::to_owned)
        .or_else(|| env.os_user.clone())?;
    let database = config.get_dbname().unwrap_or(&user);
    let text = read_private(&file)?;
    let password =
        pgpass_lookup(&text, [&host, &port, database, &user]).filter(|p| !p.is_empty())?;
    Some((file, password))
}

/// The bytes of `file` when it is a plain file its owner alone may use; libpq ignores a
/// password file others can read or write (and a missing or unreadable one).
fn read_private(file: &Path) -> Option<Vec<u8>> {
    let meta = std::fs::metadata(file).ok()?;
    if !meta.is_file() {
        return None;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o077 != 0 {
            return None;
        }
    }
    std::fs::read(file).ok()
}

/// The password of the first line of a password file (`host:port:database:user:password`,
/// `*` matching anything, `\` escaping `:` and `\`, `#` starting a comment line) whose first
/// four fields match `wanted`.
pub fn pgpass_lookup(text: &[u8], wanted: [&str; 4]) -> Option<Vec<u8>> {
    text.split(|b| *b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
        .filter(|line| !line.is_empty() && !line.starts_with(b"#"))
        .find_map(|line| {
            let mut rest = line;
            for field in wanted {
                rest = pgpass_field(rest, field.as_bytes())?;
            }
            Some(pgpass_unescape(rest))
        })
}

/// What follows the line's first field when that field is `*` or, unescaped, `wanted`.
fn pgpass_field<'a>(line: &'a [u8], wanted: &[u8]) -> Option<&'a [u8]> {
    if let Some(rest) = line.strip_prefix(b"*:") {
        return Some(rest);
    }
    let mut field = Vec::new();
    let mut i = 0;
    while let Some(&b) = line.get(i) {
        match b {
            b'\\' if i + 1 < line.len() => {
                field.push(line[i + 1]);
                i += 2;
            }
            b':' => return (field == wanted).then(|| &line[i + 1..]),
            _ => {
                field.push(b);
                i += 1;
            }
        }
    }
    // Too few fields: the line matches nothing.
    None
}

/// The password field unescaped, up to an unescaped `:` as libpq reads it.
fn pgpass_unescape(field: &[u8]) -> Vec<u8> {
    let mut password = Vec::with_capacity(field.len());
    let mut bytes = field.iter().copied();
    while let Some(b) = bytes.next() {
        match b {
            b'\\' => password.push(bytes.next().unwrap_or(b'\\')),
            b':' => break,
            _ => password.push(b),
        }
    }
    password
}

fn name(m: SslMode) -> &'static str {
    match m {
        SslMode::Disable => "disable",
        SslMode::Prefer => "prefer",
        SslMode::Require => "require",
        SslMode::VerifyCa => "verify-ca",
        SslMode::VerifyFull => "verify-full",
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
/// The `ssl*` options taken out of the connection string.
enum Taken {
    Mode,
    RootCert,
    Cert,
    Key,
}

fn taken(key: &str) -> Option<Taken> {
    match key {
        "sslmode" => Some(Taken::Mode),
        "sslrootcert" => Some(Taken::RootCert),
        "sslcert" => Some(Taken::Cert),
        "sslkey" => Some(Taken::Key),
        _ => None,
    }
}

fn decode(what: &str, s: &str) -> Result<String> {
    percent_decode_str(s)
        .decode_utf8()
        .map(|v| v.into_owned())
        .map_err(|_| Error::Url(format!("{what} is not valid UTF-8 once percent-decoded")))
}

/// `value` in single quotes as libpq's `key=value` strings take it.
fn quote(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// URL form: the query's `sslmode` and `sslrootcert` are taken out; every other parameter
/// stays byte for byte (libpq, and tokio-postgres, do not read `+` as a space).
fn split_url(url: &str) -> Result<(String, Vec<(Taken, String)>)> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_owned(), Vec::new()));
    };
    let mut kept = Vec::new();
    let mut pairs = Vec::new();
    for part in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        match taken(&decode("a URL parameter name", k)?) {
            Some(t) => pairs.push((t, decode("a URL parameter", v)?)),
            None => kept.push(part),
        }
    }
    let rest = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((rest, pairs))
}

/// `key=value` form, as libpq writes it: values bare or in single quotes, `\` escaping the
/// next character. The kept pairs are written back quoted.
fn split_key_values(s: &str) -> Result<(String, Vec<(Taken, String)>)> {
    let mut chars = s.chars().peekable();
    let mut kept = Vec::new();
    let mut pairs = Vec::new();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            break;
        }
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| *c != '=' && !c.is_whitespace()) {
            key.push(c);
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.next() != Some('=') {
            return Err(Error::Url(format!(
                "option {key:?} has no value (write key=value pairs or a postgres:// URL)"
            )));
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        let quoted = chars.next_if_eq(&'\'').is_some();
        loop {
            match chars.next() {
                Some('\\') => match chars.next() {
                    Some(c) => value.push(c),
                    None => break,
                },
                Some('\'') if quoted => break,
                Some(c) if !quoted && c.is_whitespace() => break,
                Some(c) => value.push(c),
                None if quoted => {
                    return Err(Error::Url(format!(
                        "the value of option {key:?} has no closing quote"
                    )));
                }
                None => break,
            }
        }
        match taken(&key) {
            Some(t) => pairs.push((t, value)),
            None => kept.push(format!("{key}={}", quote(&value))),
        }
    }
    Ok((kept.join(" "), pairs))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parsed without any environment, so the machine's `PGSSL*` and home do not matter.
    fn ok(url: &str) -> ConnInfo {
        parse_in(url, &Env::default()).unwrap_or_else(|e| panic!("{url}: {e}"))
    }

    #[test]
    fn libpq_modes_and_root_certs_are_taken_out_of_urls() {
        let c = ok(
            "postgres://u:p%40ss@db.example.com:6543/postgres?sslmode=verify-full&sslrootcert=%2Fetc%2Fca%20dir%2Fca.pem&application_name=a+b",
        );
        assert_eq!(c.ssl_mode, SslMode::VerifyFull);
        assert_eq!(
            c.root_cert,
            Some(RootCert::File("/etc/ca dir/ca.pem".into()))
        );
        assert_eq!(
            c.rest,
            "postgres://u:p%40ss@db.example.com:6543/postgres?application_name=a+b"
        );
        let c = ok("postgresql://u@h/db?sslmode=require");
        assert_eq!(
            (c.ssl_mode, c.rest.as_str()),
            (SslMode::Require, "postgresql://u@h/db")
        );
        assert_eq!(ok("postgres://u@h/db").ssl_mode, SslMode::Prefer);
        let c = ok("postgres://u@h/db?sslrootcert=system");
        assert_eq!(
            (c.ssl_mode, c.root_cert),
            (SslMode::VerifyFull, Some(RootCert::System))
        );
    }

    #[test]
    fn key_value_strings_keep_their_other_options() {
        let c = ok(
            r"host=localhost  sslmode = verify-ca sslrootcert='/tmp/my ca.pem' password='it\'s' port=5432",
        );
        assert_eq!(c.ssl_mode, SslMode::VerifyCa);
        assert_eq!(c.root_cert, Some(RootCert::File("/tmp/my ca.pem".into())));
        assert_eq!(c.rest, r"host='localhost' password='it\'s' port='5432'");
        let parsed: tokio_postgres::Config = c.rest.parse().unwrap();
        assert_eq!(parsed.get_password(), Some(&b"it's"[..]));
    }

    fn env(vars: &[(&str, &str)], home: Option<&std::path::Path>) -> Env {
        Env {
            vars: vars
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            home: home.map(std::path::Path::to_owned),
            os_user: None,
        }
    }

    fn ok_in(url: &str, env: &Env) -> ConnInfo {
        parse_in(url, env).unwrap_or_else(|e| panic!("{url}: {e}"))
    }

    #[test]
    fn the_url_wins_over_the_environment() {
        let e = env(
            &[
                ("PGSSLMODE", "verify-full"),
                ("PGSSLROOTCERT", "/env/ca.pem"),
                ("PGSSLCERT", "/env/client.crt"),
                ("PGSSLKEY", "/env/client.key"),
            ],
            None,
        );
        let c = ok_in(
            "postgres://u@h/db?sslmode=require&sslrootcert=/url/ca.pem&sslcert=/url/c.crt&sslkey=/url/c.key",
            &e,
        );
        assert_eq!(c.ssl_mode, SslMode::Require);
        assert_eq!(c.root_cert, Some(RootCert::File("/url/ca.pem".into())));
        assert_eq!(
            c.client_cert,
            Some(ClientCert {
                cert: "/url/c.crt".into(),
                key: "/url/c.key".into()
            })
        );
        assert_eq!(c.rest, "postgres://u@h/db");
        // What the URL leaves out comes from the environment.
        let c = ok_in("host=h user=u", &e);
        assert_eq!(c.ssl_mode, SslMode::VerifyFull);
        assert_eq!(c.root_cert, Some(RootCert::File("/env/ca.pem".into())));
        assert_eq!(
            c.client_cert,
            Some(ClientCert {
                cert: "/env/client.crt".into(),
                key: "/env/client.key".into()
            })
        );
        assert_eq!(c.rest, "host='h' user='u'");
        // Plain text reads no certificate.
        assert_eq!(
            ok_in("postgres://u@h/db?sslmode=disable", &e).client_cert,
            None
        );
        // PGSSLROOTCERT=system makes verify-full the default, as sslrootcert=system does.
        let system = env(&[("PGSSLROOTCERT", "system")], None);
        assert_eq!(ok_in("host=h", &system).ssl_mode, SslMode::VerifyFull);
        // Empty variables are unset ones.
        assert_eq!(
            ok_in("host=h", &env(&[("PGSSLMODE", "")], None)).ssl_mode,
            SslMode::Prefer
        );
    }

    #[test]
    fn a_bad_pgsslmode_names_the_variable() {
        let e = parse_in(
            "postgres://u:s3cret@h/db",
            &env(&[("PGSSLMODE", "on")], None),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("PGSSLMODE: sslmode \"on\" is not supported"),
            "{e}"
        );
        assert!(!e.contains("s3cret"), "{e}");
    }

    #[test]
    fn default_files_under_home_are_used_when_present() {
        let home = tempfile::tempdir().unwrap();
        let dir = home.path().join(".postgresql");
        let e = env(&[], Some(home.path()));
        // Nothing there: verify-full names the default file it looked for.
        let err = parse_in("host=h sslmode=verify-full", &e)
            .unwrap_err()
            .to_string();
        assert!(err.contains("needs sslrootcert"), "{err}");
        assert!(
            err.contains(&format!(
                "{} does not exist",
                dir.join("root.crt").display()
            )),
            "{err}"
        );
        let c = ok_in("host=h sslmode=require", &e);
        assert_eq!((c.root_cert, c.client_cert), (None, None));

        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("root.crt"), "").unwrap();
        std::fs::write(dir.join("postgresql.crt"), "").unwrap();
        // root.crt verifies verify-full, and makes require check the chain, as libpq.
        for mode in ["verify-full", "require"] {
            let c = ok_in(&format!("host=h sslmode={mode}"), &e);
            assert_eq!(c.root_cert, Some(RootCert::File(dir.join("root.crt"))));
        }
        // The default certificate goes with the default key (or the named one).
        let c = ok_in("host=h", &e);
        assert_eq!(
            c.client_cert,
            Some(ClientCert {
                cert: dir.join("postgresql.crt"),
                key: dir.join("postgresql.key")
            })
        );
        let c = ok_in("host=h sslkey=/k.pem", &e);
        assert_eq!(c.client_cert.map(|c| c.key), Some("/k.pem".into()));
        // Named files win over the defaults.
        let c = ok_in("host=h sslrootcert=/ca.pem sslcert=/c.crt", &e);
        assert_eq!(c.root_cert, Some(RootCert::File("/ca.pem".into())));
        assert_eq!(c.client_cert.map(|c| c.cert), Some("/c.crt".into()));
    }

    #[test]
    fn a_certificate_without_a_key_is_refused_without_a_home() {
        let err = parse_in("host=h sslcert=/c.crt", &env(&[], None))
            .unwrap_err()
            .to_string();
        assert!(err.contains("sslcert /c.crt needs sslkey"), "{err}");
    }

    #[test]
    fn bad_modes_name_the_mode_never_the_password() {
        for (url, expected) in [
            (
                "postgres://u:s3cret@h/db?sslmode=verify_full",
                "is not supported",
            ),
            ("postgres://u:s3cret@h/db?sslmode=allow", "is not supported"),
            (
                "postgres://u:s3cret@h/db?sslmode=verify-ca",
                "needs sslrootcert",
            ),
            (
                "postgres://u:s3cret@h/db?sslmode=require&sslrootcert=system",
                "use sslmode=verify-full",
            ),
            ("user=u password=s3cret sslmode", "has no value"),
            ("user=u password='s3cret", "no closing quote"),
        ] {
            let e = parse_in(url, &Env::default()).unwrap_err().to_string();
            assert!(e.contains(expected), "{url}: {e}");
            assert!(!e.contains("s3cret"), "{e}");
        }
    }

    /// What the provider connects with for `url` in `env`.
    fn connection(url: &str, env: &Env) -> Connection {
        let info = ok_in(url, env);
        connection_in(&info.rest, env).unwrap_or_else(|e| panic!("{url}: {e}"))
    }

    /// Host, port, database, user, password and connect timeout of a connection.
    type Parts = (
        Vec<String>,
        Vec<u16>,
        Option<String>,
        Option<String>,
        Option<Vec<u8>>,
        Option<u64>,
    );

    fn parts(c: &Connection) -> Parts {
        let hosts = c
            .config
            .get_hosts()
            .iter()
            .map(|h| match h {
                Host::Tcp(name) => name.clone(),
                Host::Unix(dir) => dir.display().to_string(),
            })
            .collect();
        (
            hosts,
            c.config.get_ports().to_vec(),
            c.config.get_dbname().map(str::to_owned),
            c.config.get_user().map(str::to_owned),
            c.config.get_password().map(<[u8]>::to_vec),
            c.config.get_connect_timeout().map(|t| t.as_secs()),
        )
    }

    fn expected(
        host: &str,
        port: u16,
        db: &str,
        user: &str,
        password: &str,
        timeout: u64,
    ) -> Parts {
        (
            vec![host.to_owned()],
            vec![port],
            Some(db.to_owned()),
            Some(user.to_owned()),
            Some(password.as_bytes().to_vec()),
            Some(timeout),
        )
    }

    const CONNECTION_VARS: [(&str, &str); 6] = [
        ("PGHOST", "env.example.com"),
        ("PGPORT", "6543"),
        ("PGDATABASE", "envdb"),
        ("PGUSER", "envuser"),
        ("PGPASSWORD", "EnvS3cret"),
        ("PGCONNECT_TIMEOUT", "7"),
    ];

    #[test]
    fn connection_variables_fill_what_the_url_leaves_out_and_lose_to_it() {
        let e = env(&CONNECTION_VARS, None);
        for url in ["postgresql://", ""] {
            let c = connection(url, &e);
            assert_eq!(
                parts(&c),
                expected("env.example.com", 6543, "envdb", "envuser", "EnvS3cret", 7),
                "{url:?}"
            );
            assert_eq!(c.password_from, PasswordFrom::Env);
        }
        for url in [
            "postgres://u:UrlPw@url.example.com:5433/urldb?connect_timeout=3",
            "host=url.example.com port=5433 dbname=urldb user=u password=UrlPw connect_timeout=3",
        ] {
            let c = connection(url, &e);
            assert_eq!(
                parts(&c),
                expected("url.example.com", 5433, "urldb", "u", "UrlPw", 3),
                "{url}"
            );
            assert_eq!(c.password_from, PasswordFrom::Url);
        }
        // Each variable alone fills its own part, whatever the URL gives.
        let full = "postgres://u:UrlPw@url.example.com:5433/urldb?connect_timeout=3";
        for (var, url) in [
            (
                "PGHOST",
                "postgres://u:UrlPw@/urldb?port=5433&connect_timeout=3",
            ),
            (
                "PGPORT",
                "postgres://u:UrlPw@url.example.com/urldb?connect_timeout=3",
            ),
            (
                "PGDATABASE",
                "postgres://u:UrlPw@url.example.com:5433?connect_timeout=3",
            ),
            (
                "PGUSER",
                "host=url.example.com port=5433 dbname=urldb password=UrlPw connect_timeout=3",
            ),
            (
                "PGPASSWORD",
                "postgres://u@url.example.com:5433/urldb?connect_timeout=3",
            ),
            (
                "PGCONNECT_TIMEOUT",
                "postgres://u:UrlPw@url.example.com:5433/urldb",
            ),
        ] {
            let one = env(
                &CONNECTION_VARS
                    .iter()
                    .copied()
                    .filter(|(k, _)| *k == var)
                    .collect::<Vec<_>>(),
                None,
            );
            let (mut want, got) = (
                parts(&connection(full, &one)),
                parts(&connection(url, &one)),
            );
            match var {
                "PGHOST" => want.0 = vec!["env.example.com".to_owned()],
                "PGPORT" => want.1 = vec![6543],
                "PGDATABASE" => want.2 = Some("envdb".to_owned()),
                "PGUSER" => want.3 = Some("envuser".to_owned()),
                "PGPASSWORD" => want.4 = Some(b"EnvS3cret".to_vec()),
                _ => want.5 = Some(7),
            }
            assert_eq!(got, want, "{var}");
        }
    }

    #[test]
    fn connection_variables_read_as_libpq_reads_them() {
        // Lists, socket directories, one port for every host.
        let e = env(
            &[
                ("PGHOST", "a.example.com,/var/run/postgresql"),
                ("PGPORT", "6543"),
            ],
            None,
        );
        let c = connection("dbname=db", &e);
        assert_eq!(parts(&c).0, ["a.example.com", "/var/run/postgresql"]);
        assert_eq!(parts(&c).1, [6543]);
        let c = connection("postgres://u@a.example.com,b.example.com/db", &e);
        assert_eq!(
            (parts(&c).0, parts(&c).1),
            (
                vec!["a.example.com".to_owned(), "b.example.com".to_owned()],
                vec![6543, 6543]
            )
        );
        // A port in the URL, even one host's, or as a parameter: PGPORT is not used.
        for url in [
            "postgres://u@a.example.com,b.example.com:5433/db",
            "postgres://u@[::1]:5433/db",
            "postgres://u@a.example.com/db?port=5433",
        ] {
            assert!(parts(&connection(url, &e)).1.contains(&5433), "{url}");
            assert!(!parts(&connection(url, &e)).1.contains(&6543), "{url}");
        }
        // hostaddr names the server: PGHOST is not added to it.
        let c = connection("hostaddr=127.0.0.1", &e);
        assert!(c.config.get_hosts().is_empty());
        // Zero waits forever in libpq: here the provider's default applies.
        let c = connection("host=h", &env(&[("PGCONNECT_TIMEOUT", "0")], None));
        assert_eq!(c.config.get_connect_timeout(), None);
        // Empty variables are unset ones; an empty URL password is no password.
        let c = connection(
            "postgres://u:@h/db",
            &env(&[("PGUSER", ""), ("PGPASSWORD", "EnvS3cret")], None),
        );
        assert_eq!(
            (c.config.get_user(), c.password_from),
            (Some("u"), PasswordFrom::Env)
        );
    }

    #[test]
    fn bad_connection_variables_name_the_variable_never_a_password() {
        let secrets = [("PGPASSWORD", "EnvS3cret")];
        for (var, value, expected) in [
            ("PGPORT", "x", "invalid value for option `port`"),
            ("PGPORT", "1,2,3", "PGPORT: 3 ports for 2 hosts"),
            (
                "PGCONNECT_TIMEOUT",
                "soon",
                "invalid value for option `connect_timeout`",
            ),
            (
                "PGSSLMODE",
                "on",
                "PGSSLMODE: sslmode \"on\" is not supported",
            ),
        ] {
            let home = tempfile::tempdir().unwrap();
            write_pgpass(&home.path().join(".pgpass"), "*:*:*:*:FileS3cret\n", 0o600);
            let mut vars = secrets.to_vec();
            vars.push((var, value));
            let e = env(&vars, Some(home.path()));
            let url = "postgres://u:UrlS3cret@a.example.com,b.example.com/db";
            let err = parse_in(url, &e)
                .and_then(|info| connection_in(&info.rest, &e))
                .unwrap_err()
                .to_string();
            assert!(err.contains(&format!("{var}: ")), "{err}");
            assert!(err.contains(expected), "{err}");
            for secret in ["UrlS3cret", "EnvS3cret", "FileS3cret"] {
                assert!(!err.contains(secret), "{err}");
            }
        }
        // Nor does what is printed of the settings.
        let home = tempfile::tempdir().unwrap();
        write_pgpass(&home.path().join(".pgpass"), "*:*:*:*:FileS3cret\n", 0o600);
        let e = env(&secrets, Some(home.path()));
        let shown = format!("{e:?} {:?}", connection("host=h", &e));
        assert!(!shown.contains("S3cret"), "{shown}");
        let shown = format!(
            "{:?}",
            connection("host=h user=u", &env(&[], Some(home.path())))
        );
        assert!(
            !shown.contains("S3cret") && shown.contains(".pgpass"),
            "{shown}"
        );
    }

    fn write_pgpass(path: &std::path::Path, text: &str, mode: u32) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::write(path, text).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    fn lookup(text: &str, wanted: [&str; 4]) -> Option<String> {
        pgpass_lookup(text.as_bytes(), wanted).map(|p| String::from_utf8(p).unwrap())
    }

    #[test]
    fn password_file_lines_match_as_libpq_matches_them() {
        let text = "\
# comment: h:5432:db:u:commented
other.example.com:5432:db:u:other
db.example.com:5432:db:u:exact
db.example.com:5432:db:u:second
*:6543:*:u:any-host-6543
h\\:colon:5432:db\\\\back:u:escaped\\:pw\\\\x
short:5432:db
crlf.example.com:5432:db:u:crlf\r
*:*:*:*:fallback
";
        let w = |host, port, db, user| lookup(text, [host, port, db, user]);
        assert_eq!(
            w("db.example.com", "5432", "db", "u").as_deref(),
            Some("exact")
        );
        assert_eq!(
            w("pooler.example.com", "6543", "postgres", "u").as_deref(),
            Some("any-host-6543")
        );
        assert_eq!(
            w("h:colon", "5432", "db\\back", "u").as_deref(),
            Some("escaped:pw\\x")
        );
        assert_eq!(
            w("crlf.example.com", "5432", "db", "u").as_deref(),
            Some("crlf")
        );
        // Lines that do not match, are too short or are comments fall through.
        assert_eq!(w("short", "5432", "db", "u").as_deref(), Some("fallback"));
        assert_eq!(
            w("db.example.com", "5433", "db", "u").as_deref(),
            Some("fallback")
        );
        assert_eq!(
            w("DB.example.com", "5432", "db", "u").as_deref(),
            Some("fallback")
        );
        assert_eq!(lookup("h:5432:db:u:pw", ["h", "5432", "db", "v"]), None);
        assert_eq!(
            lookup("h:5432:db:u:pw:extra", ["h", "5432", "db", "u"]).as_deref(),
            Some("pw")
        );
        // `*` is a wildcard only as the whole field.
        assert_eq!(lookup("h*:5432:db:u:pw", ["hx", "5432", "db", "u"]), None);
    }

    #[test]
    fn the_password_file_gives_a_password_given_nowhere_else() {
        let home = tempfile::tempdir().unwrap();
        let dot = home.path().join(".pgpass");
        write_pgpass(
            &dot,
            "db.example.com:5432:postgres:app:FromHome\n*:*:*:*:Other\n",
            0o600,
        );
        let named = home.path().join("named.pgpass");
        write_pgpass(
            &named,
            "db.example.com:5432:postgres:app:FromNamed\n",
            0o600,
        );
        let url = "postgres://app@db.example.com/postgres?sslmode=require";
        let at_home = env(&[], Some(home.path()));
        let c = connection(url, &at_home);
        assert_eq!(c.config.get_password(), Some(&b"FromHome"[..]));
        assert_eq!(c.password_from, PasswordFrom::File(dot.clone()));
        // PGPASSFILE instead of ~/.pgpass.
        let c = connection(
            url,
            &env(
                &[("PGPASSFILE", named.to_str().unwrap())],
                Some(home.path()),
            ),
        );
        assert_eq!(c.config.get_password(), Some(&b"FromNamed"[..]));
        assert_eq!(c.password_from, PasswordFrom::File(named.clone()));
        // The URL and PGPASSWORD win over the file.
        let c = connection("postgres://app:FromUrl@db.example.com/postgres", &at_home);
        assert_eq!(c.config.get_password(), Some(&b"FromUrl"[..]));
        let c = connection(url, &env(&[("PGPASSWORD", "FromEnv")], Some(home.path())));
        assert_eq!(c.config.get_password(), Some(&b"FromEnv"[..]));
        // The parts matched are those after the environment filled them in, the
        // operating system's user standing for a missing user and database.
        let mut e = env(
            &[("PGHOST", "db.example.com"), ("PGDATABASE", "postgres")],
            Some(home.path()),
        );
        e.os_user = Some("app".into());
        assert_eq!(
            connection("", &e).config.get_password(),
            Some(&b"FromHome"[..])
        );
        write_pgpass(&named, "localhost:5432:app:app:Socket\n", 0o600);
        let mut e = env(&[("PGPASSFILE", named.to_str().unwrap())], None);
        e.os_user = Some("app".into());
        let c = connection("host=/var/run/postgresql", &e);
        assert_eq!(c.config.get_password(), Some(&b"Socket"[..]));
        // A file others may read or write is ignored, as libpq does, and so is a directory.
        for mode in [0o640, 0o604, 0o620] {
            write_pgpass(&dot, "*:*:*:*:Exposed\n", mode);
            let c = connection(url, &at_home);
            assert_eq!(
                (c.config.get_password(), c.password_from),
                (None, PasswordFrom::Nowhere),
                "{mode:o}"
            );
        }
        write_pgpass(&dot, "*:*:*:*:Private\n", 0o400);
        assert_eq!(
            connection(url, &at_home).config.get_password(),
            Some(&b"Private"[..])
        );
        let dir = home.path().join("dir");
        std::fs::create_dir(&dir).unwrap();
        let c = connection(url, &env(&[("PGPASSFILE", dir.to_str().unwrap())], None));
        assert_eq!(c.password_from, PasswordFrom::Nowhere);
        // No home, no file: no password.
        assert_eq!(
            connection(url, &Env::default()).password_from,
            PasswordFrom::Nowhere
        );
    }
}
