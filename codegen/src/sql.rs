//! The one place SQL identifiers and literals are quoted. Nothing else in the workspace
//! pastes names or values into SQL.

/// Quotes a PostgreSQL identifier: always double-quoted, inner `"` doubled.
///
/// Always quoting keeps mixed case and reserved words exact; validation has already
/// rejected names that would need it to be readable.
pub fn quote_ident(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 2);
    out.push('"');
    for c in name.chars() {
        if c == '"' {
            out.push('"');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// Quotes a schema-qualified name: `"schema"."name"`.
pub fn quote_qualified(schema: &str, name: &str) -> String {
    format!("{}.{}", quote_ident(schema), quote_ident(name))
}

/// Quotes a string literal: single-quoted, inner `'` doubled. Backslashes stay literal
/// because `standard_conforming_strings` is on in every supported PostgreSQL.
pub fn quote_literal(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        if c == '\'' {
            out.push('\'');
        }
        out.push(c);
    }
    out.push('\'');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_always_double_quoted_and_escaped() {
        assert_eq!(quote_ident("scout"), "\"scout\"");
        assert_eq!(quote_ident("we\"ird"), "\"we\"\"ird\"");
        assert_eq!(
            quote_qualified("ip_workbench", "tables"),
            "\"ip_workbench\".\"tables\""
        );
    }

    #[test]
    fn literals_double_their_quotes() {
        assert_eq!(quote_literal("it's"), "'it''s'");
        assert_eq!(quote_literal(r"a\b"), r"'a\b'");
    }
}
