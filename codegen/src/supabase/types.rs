//! Column types: the ones a medallion table may use, spelled the way PostgreSQL's
//! `format_type` prints them so a spec and the introspected catalog compare equal.

/// Types without modifiers: accepted spellings and the canonical name.
const PLAIN: &[(&[&str], &str)] = &[
    (&["text"], "text"),
    (&["smallint", "int2"], "smallint"),
    (&["integer", "int", "int4"], "integer"),
    (&["bigint", "int8"], "bigint"),
    (&["real", "float4"], "real"),
    (&["double precision", "float8"], "double precision"),
    (&["boolean", "bool"], "boolean"),
    (&["date"], "date"),
    (
        &["timestamptz", "timestamp with time zone"],
        "timestamp with time zone",
    ),
    (
        &["timestamp", "timestamp without time zone"],
        "timestamp without time zone",
    ),
    (
        &["time", "time without time zone"],
        "time without time zone",
    ),
    (&["interval"], "interval"),
    (&["uuid"], "uuid"),
    (&["json"], "json"),
    (&["jsonb"], "jsonb"),
    (&["bytea"], "bytea"),
    (&["inet"], "inet"),
    (&["cidr"], "cidr"),
    (&["tsvector"], "tsvector"),
];

/// Types taking modifiers: accepted spellings, canonical name, and how many modifiers.
const MODIFIED: &[(&[&str], &str, usize, usize)] = &[
    (&["varchar", "character varying"], "character varying", 0, 1),
    (&["char", "character", "bpchar"], "character", 0, 1),
    (&["numeric", "decimal"], "numeric", 0, 2),
    // pgvector's embedding column, for platinum RAG tables.
    (&["vector"], "vector", 1, 1),
];

/// Returns the canonical spelling of a column type, or why it is not accepted.
pub fn canonical_type(input: &str) -> Result<String, String> {
    // Most specs spell plain types exactly as listed: no parsing needed.
    if let Some((_, c)) = PLAIN.iter().find(|(names, _)| names.contains(&input)) {
        return Ok((*c).to_owned());
    }
    let lowered = input.trim().to_ascii_lowercase();
    let (base, array) = match lowered.strip_suffix("[]") {
        Some(b) => (b.trim_end(), true),
        None => (lowered.as_str(), false),
    };
    let base = base.split_whitespace().collect::<Vec<_>>().join(" ");
    let (name, mods) = match base.split_once('(') {
        Some((n, rest)) => {
            let inner = rest
                .strip_suffix(')')
                .ok_or_else(|| format!("{input:?} has an unclosed '('"))?;
            let mods = inner
                .split(',')
                .map(|m| {
                    m.trim()
                        .parse::<u32>()
                        .map_err(|_| format!("{input:?}: type modifier {m:?} is not a number"))
                })
                .collect::<Result<Vec<_>, _>>()?;
            (n.trim().to_owned(), Some(mods))
        }
        None => (base.clone(), None),
    };
    let canonical = if let Some((_, c)) = PLAIN.iter().find(|(names, _)| names.contains(&&*name)) {
        if mods.is_some() {
            return Err(format!("{input:?}: type {c} takes no modifiers"));
        }
        (*c).to_owned()
    } else if let Some((_, c, min, max)) = MODIFIED.iter().find(|(n, ..)| n.contains(&&*name)) {
        let mods = mods.unwrap_or_default();
        if mods.len() < *min || mods.len() > *max {
            return Err(format!(
                "{input:?}: type {c} takes {min} to {max} modifiers, not {}",
                mods.len()
            ));
        }
        // Spelled as PostgreSQL prints them, or the catalog would differ for ever:
        // `numeric(p)` is `numeric(p,0)`, a bare `char` is `character(1)`; a bare `bpchar`
        // is a type of its own (unlimited, blank-trimmed) this list does not offer.
        let mods = match (*c, mods.as_slice()) {
            ("numeric", [p]) => vec![*p, 0],
            ("character", []) if name == "bpchar" => {
                return Err(format!(
                    "{input:?} without a length is not supported; use text or character(n)"
                ));
            }
            ("character", []) => vec![1],
            _ => mods,
        };
        if mods.is_empty() {
            (*c).to_owned()
        } else {
            let list: Vec<String> = mods.iter().map(u32::to_string).collect();
            format!("{c}({})", list.join(","))
        }
    } else {
        return Err(format!(
            "{input:?} is not a supported column type; use one of {}",
            supported_types()
        ));
    };
    Ok(if array {
        format!("{canonical}[]")
    } else {
        canonical
    })
}

/// The accepted base types, for diagnostics.
pub fn supported_types() -> String {
    let mut names: Vec<&str> = PLAIN.iter().map(|(n, _)| n[0]).collect();
    names.extend(MODIFIED.iter().map(|(n, ..)| n[0]));
    names.join(", ")
}

/// True when changing a column from type `from` to type `to` (both canonical, as
/// [`canonical_type`] spells them) loses nothing: PostgreSQL converts every value of `from`
/// into an equal value of `to` that prints the same, with no error and no rounding, and
/// operators on the column behave as before. Such a change needs no
/// `allow_destructive_changes` and no check of the rows. False for equal types.
///
/// Left out on purpose, though no value errors: `real` → `double precision` (0.1 as real
/// prints `0.1`, as double precision `0.10000000149011612`), a larger numeric scale (1.50
/// becomes 1.5000), `character(n)` (blank padding changes with n), `timestamp` →
/// `timestamptz` (reads the session's TimeZone), integer → numeric (`5 / 2` becomes 2.5 in
/// a view) and `json` → `jsonb` (reorders keys, drops duplicate ones).
pub fn widens(from: &str, to: &str) -> bool {
    if from == to {
        return false;
    }
    match (from.strip_suffix("[]"), to.strip_suffix("[]")) {
        // An array converts element by element.
        (Some(f), Some(t)) => return widens(f, t),
        (None, None) => {}
        _ => return false,
    }
    let (from_name, from_mods) = parts(from);
    let (to_name, to_mods) = parts(to);
    match (from_name, from_mods.as_slice(), to_name, to_mods.as_slice()) {
        // varchar(n) stores the text as text does; the limit is only checked on input, so
        // a longer or no limit keeps every value, and text's operators apply to both.
        ("character varying", [from_len], "character varying", [to_len]) => to_len >= from_len,
        ("character varying", _, "character varying" | "text", []) => true,
        // Unlimited varchar is text under another name.
        ("text", [], "character varying", []) => true,
        // Every smallint fits in integer and bigint, every integer in bigint; values,
        // output and integer arithmetic (division truncates) stay the same.
        ("smallint", [], "integer" | "bigint", []) | ("integer", [], "bigint", []) => true,
        // Same scale, so no rounding; at least as many digits before the point, so no
        // overflow; the value prints with the same digits. `numeric(p)` is scale 0.
        ("numeric", [fp, fs @ ..], "numeric", [tp, ts @ ..]) => {
            fs.first().unwrap_or(&0) == ts.first().unwrap_or(&0) && tp >= fp
        }
        // Unconstrained numeric keeps each value with the scale it has.
        ("numeric", [_, ..], "numeric", []) => true,
        _ => false,
    }
}

/// A canonical type's name and modifiers: `numeric(12,2)` → (`numeric`, [12, 2]).
fn parts(canonical: &str) -> (&str, Vec<u32>) {
    match canonical.split_once('(') {
        Some((name, rest)) => (
            name,
            rest.trim_end_matches(')')
                .split(',')
                .filter_map(|m| m.trim().parse().ok())
                .collect(),
        ),
        None => (canonical, Vec::new()),
    }
}

/// True for the types retention can be measured on.
pub fn is_temporal(canonical: &str) -> bool {
    matches!(
        canonical,
        "date" | "timestamp with time zone" | "timestamp without time zone"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_map_to_what_format_type_prints() {
        assert_eq!(
            canonical_type("timestamptz").unwrap(),
            "timestamp with time zone"
        );
        assert_eq!(
            canonical_type("VARCHAR(20)").unwrap(),
            "character varying(20)"
        );
        assert_eq!(canonical_type("numeric(12, 2)").unwrap(), "numeric(12,2)");
        assert_eq!(canonical_type("int").unwrap(), "integer");
        assert_eq!(canonical_type("text[]").unwrap(), "text[]");
        assert_eq!(canonical_type("vector(1536)").unwrap(), "vector(1536)");
        assert_eq!(canonical_type("numeric(12)").unwrap(), "numeric(12,0)");
        assert_eq!(canonical_type("numeric(8)[]").unwrap(), "numeric(8,0)[]");
        assert_eq!(canonical_type("numeric").unwrap(), "numeric");
        assert_eq!(canonical_type("char").unwrap(), "character(1)");
        assert_eq!(canonical_type("character(3)").unwrap(), "character(3)");
    }

    #[test]
    fn unknown_or_malformed_types_are_refused() {
        assert!(canonical_type("money").is_err());
        assert!(canonical_type("text(3)").is_err());
        assert!(canonical_type("bpchar").is_err());
        assert!(canonical_type("numeric(1,2,3)").is_err());
        assert!(canonical_type("vector").is_err());
        assert!(canonical_type("varchar(x)").is_err());
        assert!(canonical_type("text; drop table x").is_err());
    }

    #[test]
    fn widenings_are_only_the_changes_that_keep_every_value_as_it_prints() {
        let ty = |t: &str| canonical_type(t).unwrap();
        for (from, to) in [
            ("varchar(8)", "text"),
            ("varchar(8)", "varchar(32)"),
            ("varchar(8)", "varchar"),
            ("varchar", "text"),
            ("text", "varchar"),
            ("smallint", "integer"),
            ("smallint", "bigint"),
            ("integer", "bigint"),
            ("numeric(10,2)", "numeric(12,2)"),
            ("numeric(10)", "numeric(12,0)"),
            ("numeric(10,2)", "numeric"),
            ("varchar(8)[]", "text[]"),
            ("integer[]", "bigint[]"),
        ] {
            assert!(widens(&ty(from), &ty(to)), "{from} -> {to}");
        }
        for (from, to) in [
            ("integer", "integer"),
            ("text", "varchar(8)"),
            ("varchar(32)", "varchar(8)"),
            ("bigint", "integer"),
            ("integer", "smallint"),
            ("numeric(12,2)", "numeric(12,1)"),
            ("numeric(12,2)", "numeric(10,2)"),
            ("numeric(12,2)", "numeric(14,4)"),
            ("numeric", "numeric(12,2)"),
            ("real", "double precision"),
            ("timestamp", "timestamptz"),
            ("text", "integer"),
            ("integer", "numeric"),
            ("integer", "text"),
            ("uuid", "text"),
            ("char(3)", "char(5)"),
            ("char(3)", "text"),
            ("json", "jsonb"),
            ("vector(3)", "vector(4)"),
            ("integer[]", "bigint"),
            ("integer", "bigint[]"),
            ("bigint[]", "integer[]"),
        ] {
            assert!(!widens(&ty(from), &ty(to)), "{from} -> {to}");
        }
    }
}
