//! Catalog introspection: what the database really holds for a layer, as a codegen
//! [`LayerModel`] (not `exact`: PostgreSQL reprints expressions), so a hand change shows as
//! a difference from the model of the spec.

use std::collections::{BTreeMap, BTreeSet};

use ipai_codegen::spec::medallion::Layer;
use ipai_codegen::sql::quote_qualified;
use ipai_codegen::supabase::model::{
    ColumnModel, ConstraintKind, ConstraintModel, IndexModel, LayerModel, PolicyModel, TableModel,
    ViewModel,
};
use tokio_postgres::GenericClient;

use super::{Result, query_row, query_rows};

/// The layer `layer` of `schema` as the catalog has it: the tables and views
/// `ip_workbench.tables` registers for it that still exist. `None` when nothing is there.
pub(super) async fn introspect(
    client: &impl GenericClient,
    workbench: &str,
    schema: &str,
    layer: Layer,
) -> Result<Option<LayerModel>> {
    let registry: bool = query_row(
        client,
        "SELECT to_regclass('ip_workbench.tables') IS NOT NULL",
        &[],
    )
    .await?
    .get(0);
    if !registry {
        return Ok(None);
    }
    let rows = query_rows(
        client,
        "SELECT t.table_name, c.relkind::text, t.retention_days, t.retention_column, t.comment \
             FROM ip_workbench.tables t \
             JOIN pg_namespace n ON n.nspname = t.schema_name \
             JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = t.table_name \
             WHERE t.workbench = $1 AND t.schema_name = $2 AND t.layer = $3 \
             ORDER BY c.oid",
        &[&workbench, &schema, &layer.as_str()],
    )
    .await?;
    if rows.is_empty() {
        return Ok(None);
    }
    let mut model = LayerModel {
        workbench: workbench.to_owned(),
        schema: schema.to_owned(),
        layer,
        tables: Vec::new(),
        views: Vec::new(),
        retention_days: None,
        comment: None,
        exact: false,
    };
    for row in rows {
        let name: String = row.get(0);
        let kind: String = row.get(1);
        let retention: Option<i32> = row.get(2);
        let qualified = quote_qualified(schema, &name);
        let grants = grants(client, &qualified).await?;
        let comment: Option<String> = query_row(
            client,
            "SELECT obj_description($1::text::regclass, 'pg_class')",
            &[&qualified],
        )
        .await?
        .get(0);
        let columns = columns(client, &qualified).await?;
        if kind == "v" {
            // The option as PostgreSQL reads it (`::bool` takes on, yes, 1 … as it does).
            let view = query_row(
                client,
                "SELECT pg_get_viewdef(c.oid), coalesce((SELECT o.option_value::bool \
                   FROM pg_options_to_table(c.reloptions) o \
                   WHERE o.option_name = 'security_invoker'), false) \
                 FROM pg_class c WHERE c.oid = $1::text::regclass",
                &[&qualified],
            )
            .await?;
            let query: String = view.get(0);
            model.views.push(ViewModel {
                name,
                query: query.trim().trim_end_matches(';').to_owned(),
                columns: columns.into_iter().map(|c| c.name).collect(),
                grants,
                comment,
                security_invoker: view.get(1),
            });
            continue;
        }
        if model.retention_days.is_none() {
            model.retention_days = retention.map(i64::from);
        }
        let (constraints, foreign_keys) = constraints(client, &qualified).await?;
        let rls: bool = query_row(
            client,
            "SELECT relrowsecurity FROM pg_class WHERE oid = $1::text::regclass",
            &[&qualified],
        )
        .await?
        .get(0);
        model.tables.push(TableModel {
            indexes: indexes(client, &qualified).await?,
            policies: policies(client, schema, &name).await?,
            name,
            columns,
            constraints,
            foreign_keys,
            rls,
            grants,
            comment,
            retention_column: row.get(3),
        });
    }
    Ok(Some(model))
}

async fn columns(client: &impl GenericClient, qualified: &str) -> Result<Vec<ColumnModel>> {
    let rows = query_rows(
        client,
        "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull, \
                    pg_get_expr(d.adbin, d.adrelid), col_description(a.attrelid, a.attnum) \
             FROM pg_attribute a \
             LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
             WHERE a.attrelid = $1::text::regclass AND a.attnum > 0 AND NOT a.attisdropped \
             ORDER BY a.attnum",
        &[&qualified],
    )
    .await?;
    Ok(rows
        .iter()
        .map(|r| ColumnModel {
            name: r.get(0),
            r#type: r.get(1),
            nullable: r.get(2),
            default: r.get(3),
            comment: r.get(4),
        })
        .collect())
}

async fn constraints(
    client: &impl GenericClient,
    qualified: &str,
) -> Result<(Vec<ConstraintModel>, Vec<ConstraintModel>)> {
    let rows = query_rows(client,
            "SELECT c.conname::text, c.contype::text, \
               ARRAY(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY k(n, o) \
                     JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.o), \
               CASE WHEN c.contype = 'c' THEN pg_get_expr(c.conbin, c.conrelid) END, \
               fn.nspname::text, fc.relname::text, \
               ARRAY(SELECT a.attname::text FROM unnest(c.confkey) WITH ORDINALITY k(n, o) \
                     JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n ORDER BY k.o), \
               c.confdeltype::text \
             FROM pg_constraint c \
             LEFT JOIN pg_class fc ON fc.oid = c.confrelid \
             LEFT JOIN pg_namespace fn ON fn.oid = fc.relnamespace \
             WHERE c.conrelid = $1::text::regclass AND c.contype IN ('p', 'u', 'c', 'f') \
             ORDER BY c.oid",
            &[&qualified],
        )
        .await?;
    let mut plain = Vec::new();
    let mut fks = Vec::new();
    for r in rows {
        let contype: String = r.get(1);
        let kind = match contype.as_str() {
            "p" => ConstraintKind::PrimaryKey,
            "u" => ConstraintKind::Unique,
            "c" => ConstraintKind::Check,
            _ => ConstraintKind::ForeignKey,
        };
        let on_delete: Option<String> = r.get(7);
        let c = ConstraintModel {
            name: r.get(0),
            kind,
            columns: if kind == ConstraintKind::Check {
                Vec::new()
            } else {
                r.get(2)
            },
            expression: r.get(3),
            ref_schema: r.get(4),
            ref_table: r.get(5),
            ref_columns: r.get(6),
            on_delete: on_delete
                .filter(|_| kind == ConstraintKind::ForeignKey)
                .map(|a| {
                    match a.as_str() {
                        "r" => "RESTRICT",
                        "c" => "CASCADE",
                        "n" => "SET NULL",
                        "d" => "SET DEFAULT",
                        _ => "NO ACTION",
                    }
                    .to_owned()
                }),
        };
        if kind == ConstraintKind::ForeignKey {
            fks.push(c);
        } else {
            plain.push(c);
        }
    }
    Ok((plain, fks))
}

async fn indexes(client: &impl GenericClient, qualified: &str) -> Result<Vec<IndexModel>> {
    let rows = query_rows(client,
            "SELECT i.relname::text, ix.indisunique, am.amname::text, \
               ARRAY(SELECT a.attname::text FROM unnest(ix.indkey::int2[]) WITH ORDINALITY k(n, o) \
                     JOIN pg_attribute a ON a.attrelid = ix.indrelid AND a.attnum = k.n ORDER BY k.o) \
             FROM pg_index ix \
             JOIN pg_class i ON i.oid = ix.indexrelid \
             JOIN pg_am am ON am.oid = i.relam \
             WHERE ix.indrelid = $1::text::regclass \
               AND NOT EXISTS (SELECT 1 FROM pg_constraint c \
                               WHERE c.conindid = ix.indexrelid AND c.conrelid = ix.indrelid \
                                 AND c.contype IN ('p', 'u', 'x')) \
             ORDER BY i.oid",
            &[&qualified],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| IndexModel {
            name: r.get(0),
            unique: r.get(1),
            method: r.get(2),
            columns: r.get(3),
        })
        .collect())
}

async fn policies(
    client: &impl GenericClient,
    schema: &str,
    table: &str,
) -> Result<Vec<PolicyModel>> {
    let rows = query_rows(
        client,
        "SELECT policyname::text, cmd, roles::text[], qual, with_check, permissive \
             FROM pg_policies WHERE schemaname = $1 AND tablename = $2 ORDER BY policyname",
        &[&schema, &table],
    )
    .await?;
    Ok(rows
        .iter()
        .map(|r| {
            let permissive: String = r.get(5);
            PolicyModel {
                name: r.get(0),
                command: r.get(1),
                roles: r.get(2),
                using: r.get(3),
                with_check: r.get(4),
                restrictive: permissive == "RESTRICTIVE",
            }
        })
        .collect())
}

async fn grants(
    client: &impl GenericClient,
    qualified: &str,
) -> Result<BTreeMap<String, BTreeSet<String>>> {
    let rows = query_rows(
        client,
        "SELECT r.rolname::text, a.privilege_type \
             FROM pg_class c CROSS JOIN LATERAL aclexplode(c.relacl) a \
             JOIN pg_roles r ON r.oid = a.grantee \
             WHERE c.oid = $1::text::regclass AND a.grantee <> c.relowner",
        &[&qualified],
    )
    .await?;
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for r in rows {
        out.entry(r.get(0)).or_default().insert(r.get(1));
    }
    Ok(out)
}
