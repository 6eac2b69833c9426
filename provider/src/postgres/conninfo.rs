//! `database_url` as libpq reads it: a `postgres://` URL or `key=value` pairs. tokio-postgres
//! rejects `sslmode=verify-ca`/`verify-full` and `sslrootcert`, so those two are taken out
//! here and everything else is handed to its parser unchanged.

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

/// The TLS settings of a connection string and the rest of it, for tokio-postgres.
#[derive(Debug, PartialEq, Eq)]
pub struct ConnInfo {
    /// The effective `sslmode`.
    pub ssl_mode: SslMode,
    /// `sslrootcert`, when given.
    pub root_cert: Option<RootCert>,
    /// The connection string without `sslmode` and `sslrootcert`.
    pub rest: String,
}

/// Splits `url` into its TLS settings and the rest. Messages name options, never values
/// other than `sslmode`'s: the string holds a password.
pub fn parse(url: &str) -> Result<ConnInfo> {
    let (rest, pairs) = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        split_url(url)?
    } else {
        split_key_values(url)?
    };
    let mut mode = None;
    let mut root = None;
    for (k, v) in pairs {
        match k {
            Taken::SslMode => mode = Some(SslMode::parse(&v)?),
            Taken::SslRootCert => root = Some(v),
        }
    }
    let root_cert = root.filter(|r| !r.is_empty()).map(|r| match r.as_str() {
        "system" => RootCert::System,
        _ => RootCert::File(PathBuf::from(r)),
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
        return Err(Error::Url(format!(
            "sslmode={} needs sslrootcert: the path of the CA certificate (PEM) the server's \
             certificate is checked against (Supabase: the project's CA certificate from the \
             dashboard's database settings), or sslrootcert=system for the public CAs",
            name(ssl_mode)
        )));
    }
    Ok(ConnInfo {
        ssl_mode,
        root_cert,
        rest,
    })
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

enum Taken {
    SslMode,
    SslRootCert,
}

fn taken(key: &str) -> Option<Taken> {
    match key {
        "sslmode" => Some(Taken::SslMode),
        "sslrootcert" => Some(Taken::SslRootCert),
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

    fn ok(url: &str) -> ConnInfo {
        parse(url).unwrap_or_else(|e| panic!("{url}: {e}"))
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
            let e = parse(url).unwrap_err().to_string();
            assert!(e.contains(expected), "{url}: {e}");
            assert!(!e.contains("s3cret"), "{e}");
        }
    }
}
