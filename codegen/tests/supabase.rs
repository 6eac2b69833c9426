//! SQL target: every input bundle in `tests/inputs/` expands to the migrations of its
//! snapshot, and every statement parses with sqlparser's PostgreSQL dialect and round-trips.

mod common;

use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

/// Parses `sql`, prints each statement, parses the print again and compares the trees.
fn assert_round_trips(file: &str, sql: &str) -> usize {
    let dialect = PostgreSqlDialect {};
    let statements = Parser::parse_sql(&dialect, sql)
        .unwrap_or_else(|e| panic!("{file} does not parse: {e}\n{sql}"));
    for s in &statements {
        let printed = s.to_string();
        let again = Parser::parse_sql(&dialect, &printed).unwrap_or_else(|e| {
            panic!("{file}: the print of a statement does not parse: {e}\n{printed}")
        });
        assert_eq!(again.len(), 1, "{file}: {printed}");
        assert_eq!(
            &again[0], s,
            "{file}: a statement changed in a round trip:\n{printed}"
        );
    }
    statements.len()
}

#[test]
fn supabase_migrations() {
    insta::glob!("inputs/*.yaml", |path| {
        let exp = common::expand(path);
        assert_eq!(exp, common::expand(path), "expansion is not deterministic");
        let name = &common::load(path).workbench.name;
        let mut versions = Vec::new();
        for m in &exp.migrations {
            let file = ipai_codegen::supabase::migration_path(name, m);
            assert_eq!(exp.files.get(&file), Some(&m.sql), "{file} is not written");
            assert!(assert_round_trips(&file, &m.sql) > 0, "{file} is empty");
            versions.push(m.version.clone());
        }
        let mut sorted = versions.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(
            versions, sorted,
            "versions are unique and in application order"
        );
        insta::assert_snapshot!(common::files_under(&exp, "supabase"));
    });
}
