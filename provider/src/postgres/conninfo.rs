//! `database_url` as libpq reads it: a `postgres://` URL or `key=value` pairs. tokio-postgres
//! rejects `sslmode=verify-ca`/`verify-full`, `sslrootcert`, `sslcert` and `sslkey`, so those
//! are taken out here and everything else is handed to its parser unchanged.
//!
//! As libpq, a TLS setting the string leaves out comes from the environment (`PGSSLMODE`,
//! `PGSSLROOTCERT`, `PGSSLCERT`, `PGSSLKEY`), then from the default files under
//! `~/.postgresql/`: `root.crt` (the CAs; when present even `prefer` and `require` check the
//! chain), `postgresql.crt` and `postgresql.key` (the client certificate, sent when present).

use std::collections::BTreeMap;
use std::path::PathBuf;

use percent_encoding::percent_decode_str;

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

/// What libpq reads besides the connection string: the `PGSSL*` variables and the home
/// directory holding `.postgresql/`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Env {
    /// Environment variables by name (only the `PGSSL*` ones are read).
    pub vars: BTreeMap<String, String>,
    /// The user's home directory.
    pub home: Option<PathBuf>,
}

impl Env {
    /// The variables libpq's TLS settings fall back to.
    pub const VARS: [&str; 4] = ["PGSSLMODE", "PGSSLROOTCERT", "PGSSLCERT", "PGSSLKEY"];

    /// This process's environment and `$HOME`.
    pub fn process() -> Self {
        Self {
            vars: Self::VARS
                .iter()
                .filter_map(|k| Some(((*k).to_owned(), std::env::var(k).ok()?)))
                .collect(),
            home: std::env::var_os("HOME")
                .filter(|h| !h.is_empty())
                .map(PathBuf::from),
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

/// [`parse_in`] with this process's environment.
pub fn parse(url: &str) -> Result<ConnInfo> {
    parse_in(url, &Env::process())
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
            None => kept.push(format!(
                "{key}='{}'",
                value.replace('\\', "\\\\").replace('\'', "\\'")
            )),
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
}
