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
    }

    #[test]
    fn unknown_or_malformed_types_are_refused() {
        assert!(canonical_type("money").is_err());
        assert!(canonical_type("text(3)").is_err());
        assert!(canonical_type("numeric(1,2,3)").is_err());
        assert!(canonical_type("vector").is_err());
        assert!(canonical_type("varchar(x)").is_err());
        assert!(canonical_type("text; drop table x").is_err());
    }
}
