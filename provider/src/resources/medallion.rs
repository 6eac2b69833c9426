//! `ipai_medallion_layer`: one layer of a medallion schema in the workbench's Supabase
//! Postgres. Plan validates the layer against its workbench and the other layers (as planned
//! in this run, else from their summary files under `output_dir`) and computes the migration, refusing data loss; apply
//! runs it through the postgres applier when `database_url` is set and always writes the
//! migration files; read introspects the catalog so hand changes show as drift.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use ipai_codegen::expand::workbench_summary_path;
use ipai_codegen::spec::medallion::Layer;
use ipai_codegen::spec::{MedallionLayerSpec, WorkbenchSpec};
use ipai_codegen::supabase::drift::{self, Expressions};
use ipai_codegen::supabase::retention;
use ipai_codegen::supabase::{self, LayerContext, LayerModel, LayerSummary, plan, summary_path};
use ipai_codegen::{AttrPath, Diagnostics, Expansion, Migration};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::config::Context;
use crate::diagnostics;
use crate::framework::{ApplyFailure, Resource};
use crate::postgres::datacheck::Found;
use crate::postgres::{self, Postgres};
use crate::resources::{blocking, hashes_on_disk, recorded_workbench, remove_files, write_files};

/// The `ipai_medallion_layer` resource.
#[derive(Debug, Clone, Copy, Default)]
pub struct MedallionLayer;

/// What the provider computes for a layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MedallionLayerComputed {
    /// `<workbench>/<schema>/<layer>`; also the import id and the ledger key in
    /// `ip_workbench.migrations`.
    pub id: String,
    /// Number of the latest migration of the layer: 0 created it, each change adds one.
    pub generation: i64,
    /// The layer as last applied or observed in the catalog (JSON): the base the next change
    /// is planned from. A change made by hand in the database shows here as drift.
    pub applied_model: String,
    /// SHA-256 (hex) of every file the layer wrote, keyed by its path relative to
    /// `output_dir` (its migrations and its summary), as found on disk when read: a file
    /// edited or deleted by hand shows as drift and the next apply rewrites it.
    pub files: BTreeMap<String, String>,
    /// SQL of every migration file the layer wrote, keyed by its path relative to
    /// `output_dir`: what apply restores when one is edited or deleted by hand.
    #[serde(default)]
    pub migrations: BTreeMap<String, String>,
    /// PostgreSQL's own text of every expression of the layer (column defaults, CHECK
    /// rules, policies' USING and WITH CHECK, view queries; PostgreSQL reprints them): read
    /// compares the catalog with it, so an expression edited by hand shows as drift. Apply
    /// records what its migration made, read back in its transaction; an expression the
    /// migration did not touch keeps its record, so an edit made since the last refresh
    /// stays drift. Import learns it by running the layer's expressions in a transaction
    /// it rolls back, so an edit made before the import is drift too. Empty without
    /// `database_url`.
    #[serde(default)]
    pub catalog: Option<BTreeMap<String, String>>,
    /// What read found changed by hand in the database since the last apply, one line per
    /// object (e.g. `policy tenant_isolation on scout.orders: USING is now (true)`); the
    /// next apply repairs it and empties this list.
    #[serde(default)]
    pub drift: Vec<String>,
}

/// The expressions recorded at the last apply, when there is a record to compare with
/// (state written before the record existed has none).
fn recorded<'a>(c: &'a MedallionLayerComputed, applied: &LayerModel) -> Option<&'a Expressions> {
    c.catalog
        .as_ref()
        .filter(|r| !r.is_empty() || drift::expressions(applied).is_empty())
}

fn internal(what: &str, e: impl std::fmt::Display) -> Diagnostics {
    diagnostics::error(AttrPath::root(), what, format!("{e}."))
}

fn pg_error(e: postgres::Error) -> Diagnostics {
    let path = match e {
        postgres::Error::NotEmpty(_) => AttrPath::attr("force_destroy"),
        postgres::Error::Url(_) | postgres::Error::Connect(_) | postgres::Error::Tls(_) => {
            AttrPath::root()
        }
        _ => AttrPath::root(),
    };
    diagnostics::error(path, "Database operation failed", format!("{e}."))
}

async fn read_file(ctx: &Context, path: String) -> Result<Option<String>, Diagnostics> {
    let target = ctx.files.clone();
    blocking(move || target.read(&path))
        .await
        .map_err(|e| internal("Reading the output directory failed", e))
}

/// The workbench (when its summary is there) and the other layers of the same schema.
async fn layer_context(
    ctx: &Context,
    spec: &MedallionLayerSpec,
) -> Result<LayerContext, Diagnostics> {
    let mut out = LayerContext::default();
    let wb = read_file(ctx, workbench_summary_path(&spec.workbench)).await?;
    out.workbenches = Some(if wb.is_some() || ctx.workbench_planned(&spec.workbench) {
        BTreeSet::from([spec.workbench.clone()])
    } else {
        BTreeSet::new()
    });
    for layer in Layer::ALL.into_iter().filter(|l| *l != spec.layer) {
        let path = summary_path(&spec.workbench, spec.schema(), layer);
        // Planned in this run (Terraform plans dependencies first) is newer than the disk.
        if let Some(s) = ctx.planned::<LayerSummary>(&path) {
            out.relations.extend(s.relations.iter().cloned());
        } else if let Some(text) = read_file(ctx, path).await?
            && let Ok(s) = serde_json::from_str::<LayerSummary>(&text)
        {
            out.relations.extend(s.relations);
        }
    }
    Ok(out)
}

/// The spec recorded in the layer's summary file at `path` (written by the apply that
/// made the layer) and its model, when it is the spec of the layer the catalog holds
/// (`seen`): what the layer is meant to be, whatever was edited by hand since.
async fn recorded_spec(
    ctx: &Context,
    path: &str,
    seen: &LayerModel,
) -> Result<Option<(MedallionLayerSpec, LayerModel)>, Diagnostics> {
    let Some(text) = read_file(ctx, path.to_owned()).await? else {
        return Ok(None);
    };
    let Some(spec) = serde_json::from_str::<LayerSummary>(&text)
        .ok()
        .and_then(|s| s.spec)
    else {
        return Ok(None);
    };
    let lctx = layer_context(ctx, &spec).await?;
    Ok(match supabase::layer_model(&spec, &lctx) {
        (Some(model), _)
            if (&model.workbench, &model.schema, model.layer)
                == (&seen.workbench, &seen.schema, seen.layer) =>
        {
            Some((spec, model))
        }
        _ => None,
    })
}

/// Whether the database has pg_cron, asked once per provider process (on `db`, else on
/// a new connection).
async fn pg_cron(ctx: &Context, db: Option<&Postgres>) -> Result<bool, Diagnostics> {
    ctx.pg_cron
        .get_or_try_init(|| async {
            match db {
                Some(db) => db.pg_cron_installed().await.map_err(pg_error),
                None => match connect(ctx).await? {
                    Some(db) => db.pg_cron_installed().await.map_err(pg_error),
                    None => Ok(false),
                },
            }
        })
        .await
        .copied()
}

/// What differs in the workbench's purge job from what a layer whose model is `applied`
/// needs: nothing when it purges no rows or the database has no pg_cron.
async fn purge_job_drift(
    ctx: &Context,
    db: &Postgres,
    applied: &LayerModel,
) -> Result<Vec<String>, Diagnostics> {
    if !retention::purges(applied) || !pg_cron(ctx, Some(db)).await? {
        return Ok(Vec::new());
    }
    let job = retention::purge_job(&applied.workbench);
    let found = db.cron_job(&job.name).await.map_err(pg_error)?;
    Ok(job.drift(found.as_ref()))
}

/// Schedules (or updates) the workbench's purge job when the layer `m` purges rows and the
/// database has pg_cron.
async fn schedule_purge_job(
    ctx: &Context,
    db: &mut Postgres,
    m: &LayerModel,
) -> Result<(), Diagnostics> {
    if !retention::purges(m) || !pg_cron(ctx, Some(db)).await? {
        return Ok(());
    }
    let sql = retention::purge_job(&m.workbench)
        .schedule_sql(&*ctx.renderer()?)
        .map_err(|e| internal("Rendering the purge job failed", e))?;
    db.schedule_job(&m.workbench, &sql).await.map_err(|e| {
        diagnostics::error(
            AttrPath::attr("retention_days"),
            "Scheduling the purge of expired rows failed",
            format!(
                "The layer was applied, but its pg_cron job was not scheduled: {e}. The next \
                 apply tries again."
            ),
        )
    })
}

/// The text PostgreSQL gives the expressions of `intended` (the record a hand edit is
/// compared with), learnt without an apply, for a layer whose catalog shows `seen`.
///
/// The catalog's text of an expression cannot be compared with the spec's (PostgreSQL
/// reprints it), and taking the catalog as found would bless whatever was edited by hand
/// before (a policy loosened to `USING (true)` would be the record, never drift). So the
/// change planner's migration from the catalog (every expression marked stale) to
/// `intended` runs in a transaction that is rolled back (see [`Postgres::rehearse`]: it
/// takes brief exclusive locks on the layer's tables and views and gives way after a few
/// seconds), and the catalog's text just before the rollback is the record.
async fn learn_baseline(
    ctx: &Context,
    db: &mut Postgres,
    intended: &LayerModel,
    seen: &LayerModel,
) -> Result<Expressions, Diagnostics> {
    let renderer = ctx.renderer()?;
    let steps = plan::change(&drift::stale(seen), intended)
        .render(&renderer)
        .map_err(|e| internal("Rendering the rehearsal failed", e))?;
    let rehearsed = db
        .rehearse(
            &intended.workbench,
            &steps,
            &intended.schema,
            intended.layer,
        )
        .await
        .map_err(pg_error)?;
    Ok(drift::baseline(intended, rehearsed.as_ref(), seen))
}

/// What import records for a layer whose intended model is `intended` and whose catalog
/// shows `seen`: the learnt baseline (see [`learn_baseline`]), the model the next plan
/// changes from, and what differs from `intended` (the `drift` the plan names), compared
/// as read compares the catalog with the record of an apply.
async fn imported(
    ctx: &Context,
    db: &mut Postgres,
    intended: &LayerModel,
    seen: LayerModel,
) -> Result<(Expressions, LayerModel, Vec<String>), Diagnostics> {
    let baseline = learn_baseline(ctx, db, intended, &seen).await?;
    let observed = drift::reconcile(intended, seen, &baseline);
    if plan::change(intended, &observed).is_empty() {
        return Ok((baseline, intended.clone(), Vec::new()));
    }
    let found = drift::describe(intended, &observed);
    Ok((baseline, observed, found))
}

async fn connect(ctx: &Context) -> Result<Option<Postgres>, Diagnostics> {
    match &ctx.database {
        None => Ok(None),
        Some(options) => options.connect().await.map(Some).map_err(|e| {
            diagnostics::error(
                AttrPath::attr("database_url"),
                "Cannot connect to the database",
                format!("{e}."),
            )
        }),
    }
}

/// Everything plan and apply share: the new model, the migration (if any) and the files.
struct Planned {
    model: LayerModel,
    computed: MedallionLayerComputed,
    migration: Option<Migration>,
    expansion: Expansion,
}

fn parse_model(text: &str) -> Result<LayerModel, Diagnostics> {
    let mut m: LayerModel = serde_json::from_str(text)
        .map_err(|e| internal("The state's applied_model is unreadable", e))?;
    m.respell_types();
    Ok(m)
}

/// How long one query checking existing rows may run at plan.
const ROW_CHECK_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs the plan's checks of existing rows (see [`supabase::datacheck`]) when the provider
/// has a database: a change the rows would make PostgreSQL refuse is refused here, with
/// the attribute that asks for it, before anything runs.
async fn check_rows(ctx: &Context, change: &plan::Plan) -> Result<(), Diagnostics> {
    if change.checks.is_empty() {
        return Ok(());
    }
    let Some(mut db) = connect(ctx).await? else {
        return Ok(());
    };
    let found = db
        .check_rows(&change.checks, ROW_CHECK_TIMEOUT)
        .await
        .map_err(pg_error)?;
    let mut d = Diagnostics::new();
    for (check, f) in change.checks.iter().zip(found) {
        match f {
            Found::Clean => {}
            Found::Violations { rows, sample } => {
                d.0.push(check.diagnostic(rows, sample.as_deref()))
            }
            Found::Unchecked(why) => tracing::warn!(
                table = %check.table,
                change = %check.change,
                "existing rows not checked at plan ({why}); the migration rolls back if they are in the way"
            ),
        }
    }
    if d.has_errors() { Err(d) } else { Ok(()) }
}

/// `check_rows`: run the plan's checks of existing rows (at plan; apply runs the
/// migration, which rolls back on its own).
async fn plan_layer(
    ctx: &Context,
    spec: &MedallionLayerSpec,
    prior: Option<&MedallionLayerComputed>,
    check_existing_rows: bool,
) -> Result<Planned, Diagnostics> {
    let lctx = layer_context(ctx, spec).await?;
    let (model, d) = supabase::layer_model(spec, &lctx);
    let Some(model) = model else {
        return Err(d);
    };
    ctx.note_planned(
        &summary_path(&model.workbench, &model.schema, model.layer),
        model.summary(),
    );
    let renderer = ctx.renderer()?;
    let with_database = ctx.config.database_url.is_some();
    let (generation, change, mut files, mut migrations, catalog) = match prior {
        Some(p) => {
            let prev = parse_model(&p.applied_model)?;
            let change = supabase::plan_change(&prev, &model, spec.allow_destructive_changes)?;
            supabase::check_dependents(&model, &change, &lctx)?;
            if check_existing_rows {
                check_rows(ctx, &change).await?;
            }
            let generation = if change.is_empty() {
                p.generation
            } else {
                p.generation + 1
            };
            // Read back after the migration (unknown until then); kept while nothing runs.
            let catalog = match (with_database, change.is_empty()) {
                (false, _) => Some(p.catalog.clone().unwrap_or_default()),
                (true, true) => recorded(p, &prev).cloned(),
                (true, false) => None,
            };
            (
                generation,
                change,
                p.files.clone(),
                p.migrations.clone(),
                catalog,
            )
        }
        None => {
            // A layer created again after a destroy continues its ledger's numbering.
            let next = match connect(ctx).await? {
                Some(db) => db
                    .ledger(&model.resource_id())
                    .await
                    .map_err(pg_error)?
                    .len() as i64,
                None => 0,
            };
            let catalog = (!with_database).then(BTreeMap::new);
            let create = plan::create(&model);
            (next, create, BTreeMap::new(), BTreeMap::new(), catalog)
        }
    };
    let mut expansion = supabase::expand_layer(spec, &model, &change, generation as u32, &renderer)
        .map_err(|e| internal("Rendering the migration failed", e))?;
    for m in &expansion.migrations {
        let path = supabase::migration_path(&model.workbench, m);
        migrations.insert(path, m.sql.clone());
    }
    // Earlier migrations are written again too, so a hand edit or deletion is repaired;
    // `files` then holds what is meant to be on disk, whatever read observed.
    for (path, sql) in &migrations {
        expansion
            .files
            .entry(path.clone())
            .or_insert_with(|| sql.clone());
    }
    files.extend(expansion.file_hashes());
    Ok(Planned {
        computed: MedallionLayerComputed {
            id: model.resource_id(),
            generation,
            applied_model: serde_json::to_string(&model)
                .map_err(|e| internal("Encoding the model failed", e))?,
            files,
            migrations,
            catalog,
            drift: Vec::new(),
        },
        migration: expansion.migrations.first().cloned(),
        expansion,
        model,
    })
}

#[async_trait::async_trait]
impl Resource for MedallionLayer {
    type Spec = MedallionLayerSpec;
    type Computed = MedallionLayerComputed;

    const TYPE_NAME: &'static str = "ipai_medallion_layer";
    const REQUIRES_REPLACE: &'static [&'static str] = &["workbench", "layer", "schema"];

    fn validate(&self, _spec: &MedallionLayerSpec) -> Diagnostics {
        // Everything needs the lower layers and the workbench: checked at plan.
        Diagnostics::new()
    }

    /// An unset `schema` is the workbench's `supabase.schema` (as planned in this run,
    /// else as recorded in its `workbench.json`), else `scout`.
    async fn resolve(
        &self,
        ctx: &Context,
        mut spec: MedallionLayerSpec,
    ) -> Result<MedallionLayerSpec, Diagnostics> {
        if spec.schema.is_none() {
            let workbench = match ctx.planned::<WorkbenchSpec>(&spec.workbench) {
                Some(w) => Some((*w).clone()),
                None => read_file(ctx, workbench_summary_path(&spec.workbench))
                    .await?
                    .as_deref()
                    .and_then(recorded_workbench),
            };
            spec.resolve_schema(workbench.as_ref());
        }
        Ok(spec)
    }

    async fn plan(
        &self,
        ctx: &Context,
        spec: &MedallionLayerSpec,
        prior: Option<&MedallionLayerComputed>,
    ) -> Result<MedallionLayerComputed, Diagnostics> {
        Ok(plan_layer(ctx, spec, prior, true).await?.computed)
    }

    /// A layer that purges rows from a database without pg_cron: nothing would run
    /// `purge_expired()`. Unsaid when the database cannot be asked (apply reports that).
    async fn plan_warnings(
        &self,
        ctx: &Context,
        _spec: &MedallionLayerSpec,
        planned: &MedallionLayerComputed,
    ) -> Diagnostics {
        let Ok(model) = parse_model(&planned.applied_model) else {
            return Diagnostics::new();
        };
        if ctx.database.is_none() || !retention::purges(&model) {
            return Diagnostics::new();
        }
        let mut d = Diagnostics::new();
        if let Ok(false) = pg_cron(ctx, None).await {
            let job = retention::purge_job(&model.workbench);
            d.warning(
                AttrPath::attr("retention_days"),
                "Expired rows are not purged",
                format!(
                    "The {} layer keeps rows for {} days, but the database has no pg_cron \
                     extension, so nothing runs ip_workbench.purge_expired() and rows are \
                     kept forever. Enable pg_cron (Supabase dashboard: Database → Extensions, \
                     or `create extension pg_cron`) and apply again: ipai then schedules the \
                     job {:?} daily (cron schedule `{}`, UTC). Or schedule `{}` by other \
                     means (e.g. n8n).",
                    model.layer.as_str(),
                    model.retention_days.unwrap_or_default(),
                    job.name,
                    job.schedule,
                    job.command,
                ),
            );
        }
        d
    }

    async fn apply(
        &self,
        ctx: &Context,
        spec: &MedallionLayerSpec,
        prior: Option<(&MedallionLayerSpec, &MedallionLayerComputed)>,
    ) -> Result<MedallionLayerComputed, ApplyFailure<MedallionLayerComputed>> {
        let mut planned = plan_layer(ctx, spec, prior.map(|(_, c)| c), false).await?;
        let mut db = connect(ctx).await?;
        match (db.as_mut(), &planned.migration) {
            (Some(db), Some(m)) => {
                let renderer = ctx.renderer()?;
                let meta = supabase::metadata_migration(&renderer)
                    .map_err(|e| internal("Rendering the metadata schema failed", e))?;
                db.apply(&spec.workbench, supabase::METADATA_RESOURCE, &[meta])
                    .await
                    .map_err(pg_error)?;
                let seen = db
                    .apply_observed(
                        &spec.workbench,
                        &planned.computed.id,
                        m,
                        spec.schema(),
                        spec.layer,
                    )
                    .await
                    .map_err(pg_error)?;
                let texts =
                    |m: &Option<LayerModel>| m.as_ref().map(drift::expressions).unwrap_or_default();
                let next = &planned.model;
                let (prev, previous) = match prior {
                    Some((_, c)) => {
                        let prev = parse_model(&c.applied_model)?;
                        let previous = recorded(c, &prev).cloned();
                        (prev, previous)
                    }
                    None => (next.clone(), None),
                };
                planned.computed.catalog = Some(drift::record_after(
                    previous.as_ref(),
                    &prev,
                    next,
                    &texts(&seen.before),
                    &texts(&seen.after),
                ));
            }
            // Nothing to run, but no record yet (state from before records were kept).
            (Some(db), None) if planned.computed.catalog.is_none() => {
                let seen = db
                    .introspect(&spec.workbench, spec.schema(), spec.layer)
                    .await
                    .map_err(pg_error)?;
                planned.computed.catalog = Some(match seen {
                    Some(seen) => learn_baseline(ctx, db, &planned.model, &seen).await?,
                    None => Expressions::new(),
                });
            }
            _ => {}
        }
        write_files(
            ctx,
            &spec.workbench,
            planned.expansion.files.clone(),
            BTreeSet::new(),
        )
        .await?;
        if let Some(db) = db.as_mut()
            && let Err(d) = schedule_purge_job(ctx, db, &planned.model).await
        {
            return Err(ApplyFailure::partial(d, planned.computed));
        }
        Ok(planned.computed)
    }

    async fn read(
        &self,
        ctx: &Context,
        spec: &MedallionLayerSpec,
        state: &MedallionLayerComputed,
    ) -> Result<Option<MedallionLayerComputed>, Diagnostics> {
        let paths: BTreeSet<String> = state
            .files
            .keys()
            .chain(state.migrations.keys())
            .cloned()
            .collect();
        let files = hashes_on_disk(ctx, paths).await;
        let state = &MedallionLayerComputed {
            files,
            ..state.clone()
        };
        let Some(db) = connect(ctx).await? else {
            return Ok(Some(state.clone()));
        };
        let seen = db
            .introspect(&spec.workbench, spec.schema(), spec.layer)
            .await
            .map_err(pg_error)?;
        let Some(seen) = seen else {
            return Ok(None);
        };
        let applied = parse_model(&state.applied_model)?;
        let observed = match recorded(state, &applied) {
            Some(record) => drift::reconcile(&applied, seen, record),
            None => seen,
        };
        let job_drift = purge_job_drift(ctx, &db, &applied).await?;
        let model_changed = !plan::change(&applied, &observed).is_empty();
        if !model_changed && job_drift.is_empty() {
            return Ok(Some(state.clone()));
        }
        // Kept until an apply repairs it: a refresh that stores `observed` must not lose it.
        let mut found = state.drift.clone();
        for d in drift::describe(&applied, &observed)
            .into_iter()
            .chain(job_drift)
        {
            if !found.contains(&d) {
                found.push(d);
            }
        }
        let applied_model = if model_changed {
            serde_json::to_string(&observed)
                .map_err(|e| internal("Encoding the model failed", e))?
        } else {
            state.applied_model.clone()
        };
        Ok(Some(MedallionLayerComputed {
            applied_model,
            drift: found,
            ..state.clone()
        }))
    }

    async fn delete(
        &self,
        ctx: &Context,
        spec: &MedallionLayerSpec,
        state: &MedallionLayerComputed,
    ) -> Result<(), Diagnostics> {
        if spec.deletion_protection {
            return Err(diagnostics::error(
                AttrPath::attr("deletion_protection"),
                "Deletion protection is on",
                format!(
                    "Layer {} is protected. Set deletion_protection = false and apply before \
                     destroying it (and force_destroy = true if its tables hold rows).",
                    state.id
                ),
            ));
        }
        if let Some(mut db) = connect(ctx).await? {
            let model = parse_model(&state.applied_model)?;
            let renderer = ctx.renderer()?;
            let drop = supabase::drop_migration(
                &model,
                &plan::drop(&model),
                (state.generation + 1) as u32,
                &renderer,
            )
            .map_err(|e| internal("Rendering the drop failed", e))?;
            let tables: Vec<String> = model.tables.iter().map(|t| t.name.clone()).collect();
            // PostgreSQL refuses to drop what another layer's view or foreign key needs
            // (Terraform destroys layers in parallel unless the configuration orders them):
            // said before any DDL, naming them.
            let owned: Vec<String> = tables
                .iter()
                .cloned()
                .chain(model.views.iter().map(|v| v.name.clone()))
                .collect();
            let dependents = db
                .dependents(spec.schema(), &owned)
                .await
                .map_err(pg_error)?;
            if !dependents.is_empty() {
                let layers: BTreeSet<&str> = dependents
                    .iter()
                    .filter_map(|d| d.layer.as_deref())
                    .collect();
                return Err(diagnostics::error(
                    AttrPath::root(),
                    "Other layers depend on this layer",
                    format!(
                        "Layer {} cannot be dropped while other objects depend on it: {}. \
                         Destroy {} first, or add depends_on = [<this layer's resource>] to \
                         {} so that Terraform destroys {} before this one. Nothing was changed.",
                        state.id,
                        dependents
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join("; "),
                        if layers.is_empty() {
                            "them".to_owned()
                        } else {
                            format!(
                                "the {} layer{}",
                                layers.iter().copied().collect::<Vec<_>>().join(" and "),
                                if layers.len() == 1 { "" } else { "s" }
                            )
                        },
                        if layers.len() == 1 {
                            "its resource"
                        } else {
                            "their resources"
                        },
                        if layers.len() == 1 { "it" } else { "them" },
                    ),
                ));
            }
            db.drop_layer(
                &spec.workbench,
                &state.id,
                spec.schema(),
                &tables,
                &drop,
                spec.force_destroy,
            )
            .await
            .map_err(pg_error)?;
            if pg_cron(ctx, Some(&db)).await? {
                let sql = retention::purge_job(&spec.workbench)
                    .unschedule_sql(&renderer)
                    .map_err(|e| internal("Rendering the purge job failed", e))?;
                db.unschedule_job_of_last_layer(&spec.workbench, &sql)
                    .await
                    .map_err(pg_error)?;
            }
        }
        let owned: BTreeSet<String> = state
            .files
            .keys()
            .chain(state.migrations.keys())
            .cloned()
            .collect();
        remove_files(ctx, &spec.workbench, owned.into_iter().collect()).await
    }

    async fn import(
        &self,
        ctx: &Context,
        id: &str,
    ) -> Result<(MedallionLayerSpec, MedallionLayerComputed), Diagnostics> {
        let parts: Vec<&str> = id.split('/').collect();
        let (workbench, schema, layer) = match parts.as_slice() {
            [w, s, l] if Layer::parse(l).is_some() => {
                (*w, *s, Layer::parse(l).unwrap_or(Layer::Bronze))
            }
            _ => {
                return Err(diagnostics::error(
                    AttrPath::root(),
                    "Invalid import id",
                    format!(
                        "{id:?} is not <workbench>/<schema>/<layer> (layer: bronze, silver, gold or platinum)."
                    ),
                ));
            }
        };
        let Some(mut db) = connect(ctx).await? else {
            return Err(diagnostics::error(
                AttrPath::attr("database_url"),
                "Import needs the database",
                "A layer is imported from the database catalog; set the provider's database_url.",
            ));
        };
        let seen = db.introspect(workbench, schema, layer)
            .await
            .map_err(pg_error)?
            .ok_or_else(|| {
                diagnostics::error(
                    AttrPath::root(),
                    "Layer not found",
                    format!("The database has no {} layer of workbench {workbench:?} in schema {schema:?} (ip_workbench.tables lists none).", layer.as_str()),
                )
            })?;
        let ledger = db.ledger(id).await.map_err(pg_error)?;
        // The migration files still on disk as they were applied (checksum as in the
        // ledger) are the layer's again, so the next plan neither rewrites nor forgets them.
        let mut migrations = BTreeMap::new();
        for entry in &ledger {
            let path = supabase::migration_file(workbench, &entry.version, &entry.name);
            if let Some(sql) = read_file(ctx, path.clone()).await?
                && Migration::new(&entry.version, &entry.name, sql.as_str()).checksum
                    == entry.checksum
            {
                migrations.insert(path, sql);
            }
        }
        let summary = summary_path(workbench, schema, layer);
        let files = hashes_on_disk(ctx, migrations.keys().cloned().chain([summary.clone()])).await;
        // With the summary the intended spec is known and the baseline learnt (see
        // `imported`). Without it the catalog is all there is: its spec is the layer's, its
        // text the baseline, and expressions are compared again once an apply changes it.
        let (spec, applied, catalog, found) = match recorded_spec(ctx, &summary, &seen).await? {
            Some((spec, intended)) => {
                let (baseline, applied, found) = imported(ctx, &mut db, &intended, seen).await?;
                (spec, applied, baseline, found)
            }
            None => {
                let baseline = drift::expressions(&seen);
                (supabase::spec_from_model(&seen), seen, baseline, Vec::new())
            }
        };
        Ok((
            spec,
            MedallionLayerComputed {
                id: id.to_owned(),
                generation: (ledger.len() as i64 - 1).max(0),
                applied_model: serde_json::to_string(&applied)
                    .map_err(|e| internal("Encoding the model failed", e))?,
                files,
                migrations,
                catalog: Some(catalog),
                drift: found,
            },
        ))
    }
}
