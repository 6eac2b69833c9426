//! SQL target: every input bundle in `tests/inputs/` expands to the same migrations as its
//! snapshot, and every statement parses with sqlparser's PostgreSQL dialect and round-trips.

use ipai_codegen::spec::{MedallionLayerSpec, WorkbenchSpec};
use ipai_codegen::{Expansion, Renderer, supabase};
use serde::Deserialize;
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

/// The parts of an input bundle the SQL target reads; other targets' fields are ignored.
#[derive(Deserialize)]
struct Bundle {
    workbench: WorkbenchSpec,
    #[serde(default)]
    medallion_layers: Vec<MedallionLayerSpec>,
}

fn expand(bundle: &Bundle, r: &Renderer) -> Expansion {
    let mut exp = supabase::workbench(&bundle.workbench, r).unwrap();
    exp.merge(supabase::medallion_layers(&[&bundle.workbench], &bundle.medallion_layers, r).unwrap());
    exp
}

/// Parses `sql`, prints each statement, parses the print again and compares the trees.
fn assert_round_trips(file: &str, sql: &str) -> usize {
    let dialect = PostgreSqlDialect {};
    let statements = Parser::parse_sql(&dialect, sql)
        .unwrap_or_else(|e| panic!("{file} does not parse: {e}\n{sql}"));
    for s in &statements {
        let printed = s.to_string();
        let again = Parser::parse_sql(&dialect, &printed)
            .unwrap_or_else(|e| panic!("{file}: the print of a statement does not parse: {e}\n{printed}"));
        assert_eq!(again.len(), 1, "{file}: {printed}");
        assert_eq!(&again[0], s, "{file}: statement changed in a round trip:\n{printed}");
    }
    statements.len()
}

#[test]
fn sql_target() {
    let r = Renderer::embedded().unwrap();
    insta::glob!("inputs/*.yaml", |path| {
        let text = std::fs::read_to_string(path).unwrap();
        let bundle: Bundle = serde_saphyr::from_str(&text).unwrap();
        let exp = expand(&bundle, &r);
        assert_eq!(exp, expand(&bundle, &r), "expansion is not deterministic");
        let mut out = String::new();
        for m in &exp.migrations {
            let path = supabase::migration_path(&bundle.workbench.name, m);
            assert_eq!(exp.files.get(&path), Some(&m.sql), "{path} is not written");
            assert!(assert_round_trips(&path, &m.sql) > 0);
            out.push_str(&format!("==> {path}\n{}\n", m.sql));
        }
        insta::assert_snapshot!(out);
    });
}
