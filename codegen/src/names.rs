//! Identifier rules shared by every resource: Kubernetes DNS-1123 names and PostgreSQL
//! identifiers. Each check adds a diagnostic at the given path and returns whether the
//! value passed.

use crate::{AttrPath, Diagnostics};

/// Longest DNS-1123 label, and longest PostgreSQL identifier in bytes (NAMEDATALEN - 1).
pub const MAX_NAME_LEN: usize = 63;

/// Checks a DNS-1123 label: 1–63 characters of `a-z`, `0-9` and `-`, starting and ending
/// with a letter or digit. Kubernetes names, workbench names and subdomains use it.
pub fn dns1123_label(path: &AttrPath, value: &str, diags: &mut Diagnostics) -> bool {
    let problem = if value.is_empty() {
        Some("it is empty".to_owned())
    } else if value.len() > MAX_NAME_LEN {
        Some(format!(
            "it is {} characters long; at most {MAX_NAME_LEN} are allowed",
            value.len()
        ))
    } else if let Some(c) = value
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        Some(format!(
            "it contains {c:?}; only lowercase letters, digits and '-' are allowed"
        ))
    } else if value.starts_with('-') || value.ends_with('-') {
        Some("it must start and end with a letter or digit".to_owned())
    } else {
        None
    };
    match problem {
        Some(why) => {
            diags.error(
                path.clone(),
                "Invalid name",
                format!("{value:?} is not a DNS-1123 label: {why}."),
            );
            false
        }
        None => true,
    }
}

/// Checks a DNS name made of DNS-1123 labels separated by dots (at most 253 characters).
pub fn dns1123_subdomain(path: &AttrPath, value: &str, diags: &mut Diagnostics) -> bool {
    if value.is_empty() || value.len() > 253 {
        diags.error(
            path.clone(),
            "Invalid DNS name",
            format!("{value:?} must be 1 to 253 characters long."),
        );
        return false;
    }
    let mut scratch = Diagnostics::new();
    if value
        .split('.')
        .all(|label| dns1123_label(path, label, &mut scratch))
    {
        return true;
    }
    diags.error(
        path.clone(),
        "Invalid DNS name",
        format!(
            "{value:?} is not a DNS name: each dot-separated part must be a DNS-1123 label \
             (lowercase letters, digits and '-', starting and ending with a letter or digit)."
        ),
    );
    false
}

/// PostgreSQL keywords that are reserved (cannot be a column or table name unquoted).
/// Even though every identifier is quoted, reserved words make hand-written SQL against
/// the schema painful, so they are refused.
pub const PG_RESERVED: &[&str] = &[
    "all",
    "analyse",
    "analyze",
    "and",
    "any",
    "array",
    "as",
    "asc",
    "asymmetric",
    "both",
    "case",
    "cast",
    "check",
    "collate",
    "column",
    "constraint",
    "create",
    "current_catalog",
    "current_date",
    "current_role",
    "current_time",
    "current_timestamp",
    "current_user",
    "default",
    "deferrable",
    "desc",
    "distinct",
    "do",
    "else",
    "end",
    "except",
    "false",
    "fetch",
    "for",
    "foreign",
    "from",
    "grant",
    "group",
    "having",
    "in",
    "initially",
    "intersect",
    "into",
    "lateral",
    "leading",
    "limit",
    "localtime",
    "localtimestamp",
    "not",
    "null",
    "offset",
    "on",
    "only",
    "or",
    "order",
    "placing",
    "primary",
    "references",
    "returning",
    "select",
    "session_user",
    "some",
    "symmetric",
    "system_user",
    "table",
    "then",
    "to",
    "trailing",
    "true",
    "union",
    "unique",
    "user",
    "using",
    "variadic",
    "when",
    "where",
    "window",
    "with",
];

/// Checks a PostgreSQL identifier as this project allows it: 1–63 bytes of lowercase
/// letters, digits and `_`, starting with a letter or `_`, and not a reserved word.
pub fn pg_identifier(path: &AttrPath, value: &str, diags: &mut Diagnostics) -> bool {
    pg_identifier_at(|| path.clone(), value, diags)
}

/// [`pg_identifier`] with the path built only when there is a diagnostic to report (the
/// hot path of large layers, where almost every name is fine).
pub fn pg_identifier_at(
    path: impl FnOnce() -> AttrPath,
    value: &str,
    diags: &mut Diagnostics,
) -> bool {
    let problem = if value.is_empty() {
        Some("it is empty".to_owned())
    } else if value.len() > MAX_NAME_LEN {
        Some(format!(
            "it is {} bytes long; PostgreSQL keeps at most {MAX_NAME_LEN}",
            value.len()
        ))
    } else if let Some(c) = value
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_'))
    {
        Some(format!(
            "it contains {c:?}; only lowercase letters, digits and '_' are allowed"
        ))
    } else if value.starts_with(|c: char| c.is_ascii_digit()) {
        Some("it must start with a letter or '_'".to_owned())
    } else if PG_RESERVED.contains(&value) {
        Some("it is a reserved word in PostgreSQL".to_owned())
    } else {
        None
    };
    match problem {
        Some(why) => {
            diags.error(
                path(),
                "Invalid identifier",
                format!("{value:?} cannot be used as a PostgreSQL identifier: {why}."),
            );
            false
        }
        None => true,
    }
}

/// True for a Kubernetes label value or the name part of a label key: at most 63
/// characters of `A-Z a-z 0-9 - _ .`, starting and ending with a letter or digit
/// (a value may also be empty).
fn label_name_ok(value: &str) -> bool {
    value.len() <= MAX_NAME_LEN
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && value.starts_with(|c: char| c.is_ascii_alphanumeric())
        && value.ends_with(|c: char| c.is_ascii_alphanumeric())
}

/// Checks a Kubernetes label value: empty, or at most 63 characters of letters, digits,
/// `-`, `_` and `.`, starting and ending with a letter or digit.
pub fn label_value(path: &AttrPath, value: &str, diags: &mut Diagnostics) -> bool {
    if value.is_empty() || label_name_ok(value) {
        return true;
    }
    diags.error(
        path.clone(),
        "Invalid label value",
        format!(
            "{value:?} cannot be a Kubernetes label value: it must be at most {MAX_NAME_LEN} \
             characters of letters, digits, '-', '_' and '.', starting and ending with a \
             letter or digit."
        ),
    );
    false
}

/// Checks a Kubernetes label key: an optional DNS subdomain prefix and `/`, then a name
/// of at most 63 characters (letters, digits, `-`, `_`, `.`, starting and ending with a
/// letter or digit). Prefixes reserved for Kubernetes (`kubernetes.io`, `k8s.io`) are refused.
pub fn label_key(path: &AttrPath, key: &str, diags: &mut Diagnostics) -> bool {
    let (prefix, name) = match key.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    let mut scratch = Diagnostics::new();
    let problem = if !label_name_ok(name) {
        Some(format!(
            "the name part {name:?} must be 1 to {MAX_NAME_LEN} characters of letters, digits, \
             '-', '_' and '.', starting and ending with a letter or digit"
        ))
    } else if let Some(p) = prefix
        && !dns1123_subdomain(path, p, &mut scratch)
    {
        Some(format!("the prefix {p:?} must be a lowercase DNS name"))
    } else if let Some(p) = prefix
        && ["kubernetes.io", "k8s.io"]
            .iter()
            .any(|r| p == *r || p.ends_with(&format!(".{r}")))
    {
        Some(format!(
            "the prefix {p:?} is reserved for Kubernetes; ipai sets the app.kubernetes.io labels itself"
        ))
    } else {
        None
    };
    match problem {
        Some(why) => {
            diags.error(
                path.clone(),
                "Invalid label key",
                format!("{key:?} cannot be a Kubernetes label key: {why}."),
            );
            false
        }
        None => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dns(v: &str) -> bool {
        dns1123_label(&AttrPath::attr("name"), v, &mut Diagnostics::new())
    }
    fn pg(v: &str) -> bool {
        pg_identifier(&AttrPath::attr("name"), v, &mut Diagnostics::new())
    }

    #[test]
    fn dns_labels() {
        assert!(dns("scout-prod"));
        assert!(dns(&"a".repeat(63)));
        assert!(!dns(&"a".repeat(64)));
        assert!(!dns("Scout"));
        assert!(!dns("-scout"));
        assert!(!dns("scout_prod"));
        assert!(!dns(""));
    }

    #[test]
    fn pg_identifiers() {
        assert!(pg("bronze_transactions"));
        assert!(!pg("bad;drop"));
        assert!(!pg("has space"));
        assert!(!pg("quo\"te"));
        assert!(!pg("select"));
        assert!(!pg(&"x".repeat(64)));
        assert!(!pg("1abc"));
    }

    #[test]
    fn label_keys_and_values() {
        let path = AttrPath::attr("tags");
        let key = |k: &str| label_key(&path, k, &mut Diagnostics::new());
        let value = |v: &str| label_value(&path, v, &mut Diagnostics::new());
        assert!(key("team"));
        assert!(key("example.com/cost-center"));
        assert!(key("Team_A.b"));
        assert!(!key("app.kubernetes.io/name"));
        assert!(!key("node.k8s.io/x"));
        assert!(!key("Example.com/x"));
        assert!(!key("a b"));
        assert!(!key(""));
        assert!(!key(&"k".repeat(64)));
        assert!(value(""));
        assert!(value("Data_Platform.v2"));
        assert!(!value("-x"));
        assert!(!value("x y"));
        assert!(!value(&"v".repeat(64)));
    }

    #[test]
    fn diagnostics_carry_the_path() {
        let mut d = Diagnostics::new();
        dns1123_label(&AttrPath::attr("cluster").at("name"), "BAD", &mut d);
        assert_eq!(d.0[0].path.to_string(), "cluster.name");
        assert!(d.0[0].detail.contains("\"BAD\""));
    }
}
