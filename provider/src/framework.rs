//! The resource framework: implement [`Resource`] for a codegen spec and register it in
//! [`Registry::new`]; the framework does the rest.
//!
//! - **Schema**: derived from the spec's JSON Schema plus the `Computed` struct's (all
//!   Computed), see [`crate::schema`].
//! - **Decoding**: the cty object is turned into JSON (nulls dropped, so serde defaults
//!   apply) and deserialized with `serde_path_to_error`, so a bad value is a diagnostic
//!   on its attribute path.
//! - **Plan**: defaults are filled into the configuration (so there is no perpetual
//!   diff); when it is fully known the spec is decoded, validated and [`Resource::plan`]
//!   computes the computed attributes without side effects (one it plans as null is
//!   unknown: known after apply); otherwise every computed attribute is unknown. Attributes in [`Resource::REQUIRES_REPLACE`] that change
//!   force a replacement.
//! - **Apply / read / delete / import / upgrade**: the typed methods, with the spec and
//!   the computed attributes decoded from state.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use ipai_codegen::{AttrPath, Diagnostics};
use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value as Json;

use crate::config::Context;
use crate::diagnostics;
use crate::schema::Derived;
use crate::value::Value;

mod ephemeral;
pub use ephemeral::{
    DynEphemeral, DynOpened, EphemeralResource, Opened, Renewed, TypedEphemeral, register_ephemeral,
};

/// One managed resource type, typed by its spec.
#[async_trait::async_trait]
pub trait Resource: Send + Sync + 'static {
    /// The configuration: a codegen spec (`serde` + `schemars`).
    type Spec: Serialize + DeserializeOwned + JsonSchema + Send + Sync;
    /// The attributes the provider computes (`id`, hashes, …): a struct whose fields
    /// become Computed attributes.
    type Computed: Serialize + DeserializeOwned + JsonSchema + Send + Sync;

    /// The Terraform type name, e.g. `ipai_workbench`.
    const TYPE_NAME: &'static str;
    /// The state's schema version; raise it when state written by an older version must
    /// be converted in [`Resource::upgrade`].
    const SCHEMA_VERSION: i64 = 0;
    /// Attributes whose change replaces the resource: top-level names, or dotted paths
    /// into nested attributes (`gpu.node_size`).
    const REQUIRES_REPLACE: &'static [&'static str] = &[];

    /// Checks a fully known spec (no provider configuration needed).
    fn validate(&self, spec: &Self::Spec) -> Diagnostics;

    /// Fills the spec's attributes whose default depends on other resources
    /// (`x-computed`, see [`crate::schema::COMPUTED_KEYWORD`]) when the configuration
    /// leaves them null. Called at plan, before [`Resource::plan`]; the resolved values
    /// are planned and stored like configured ones. No side effects.
    async fn resolve(&self, _ctx: &Context, spec: Self::Spec) -> Result<Self::Spec, Diagnostics> {
        Ok(spec)
    }

    /// Computes the computed attributes from the spec. No side effects.
    async fn plan(
        &self,
        ctx: &Context,
        spec: &Self::Spec,
        prior: Option<&Self::Computed>,
    ) -> Result<Self::Computed, Diagnostics>;

    /// Warnings about a fully known spec and what [`Resource::plan`] computed for it: what
    /// the configuration asks for that the targets will not do as they are (e.g. a
    /// retention nothing schedules). No side effects; none by default.
    async fn plan_warnings(
        &self,
        _ctx: &Context,
        _spec: &Self::Spec,
        _planned: &Self::Computed,
    ) -> Diagnostics {
        Diagnostics::new()
    }

    /// Creates or updates the real objects; returns exactly what [`Resource::plan`]
    /// planned for the computed attributes (Terraform checks). A change that fails after
    /// creating something returns [`ApplyFailure::partial`], so Terraform keeps what
    /// exists in state (a failed create is kept tainted) and destroy finds it.
    async fn apply(
        &self,
        ctx: &Context,
        spec: &Self::Spec,
        prior: Option<(&Self::Spec, &Self::Computed)>,
    ) -> Result<Self::Computed, ApplyFailure<Self::Computed>>;

    /// Observes the real objects; what differs from `state` shows as drift.
    /// `None` means the resource is gone.
    async fn read(
        &self,
        ctx: &Context,
        spec: &Self::Spec,
        state: &Self::Computed,
    ) -> Result<Option<Self::Computed>, Diagnostics>;

    /// Removes exactly what the resource created.
    async fn delete(
        &self,
        ctx: &Context,
        spec: &Self::Spec,
        state: &Self::Computed,
    ) -> Result<(), Diagnostics>;

    /// Rebuilds spec and state from the real objects (`terraform import ADDR <id>`).
    async fn import(
        &self,
        ctx: &Context,
        id: &str,
    ) -> Result<(Self::Spec, Self::Computed), Diagnostics>;

    /// Converts state JSON written with schema `version` to the current schema.
    fn upgrade(&self, version: i64, state: Json) -> Result<Json, Diagnostics> {
        if version == Self::SCHEMA_VERSION {
            Ok(state)
        } else {
            Err(diagnostics::error(
                AttrPath::root(),
                "Unsupported state version",
                format!(
                    "The state of this {} was written with schema version {version}; this \
                     provider knows version {} only.",
                    Self::TYPE_NAME,
                    Self::SCHEMA_VERSION
                ),
            ))
        }
    }
}

/// A failed apply: the diagnostics and, when the change got part of the way, the state
/// describing what exists now (Terraform stores it alongside the errors).
#[derive(Debug, Clone, PartialEq)]
pub struct ApplyFailure<T> {
    /// Why it failed.
    pub diagnostics: Diagnostics,
    /// What exists now; `None` leaves the prior state as it was.
    pub partial: Option<T>,
}

impl<T> ApplyFailure<T> {
    /// A failure that leaves `partial` in state.
    pub fn partial(diagnostics: Diagnostics, partial: T) -> Self {
        Self {
            diagnostics,
            partial: Some(partial),
        }
    }
}

impl<T> From<Diagnostics> for ApplyFailure<T> {
    fn from(diagnostics: Diagnostics) -> Self {
        Self {
            diagnostics,
            partial: None,
        }
    }
}

/// The planned state and the attributes that force a replacement.
#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    /// The planned new state.
    pub state: Value,
    /// Paths whose change replaces the resource.
    pub requires_replace: Vec<AttrPath>,
    /// Warnings shown with the plan (see [`Resource::plan_warnings`]).
    pub warnings: Diagnostics,
}

/// A resource type without its types: what the gRPC server drives.
#[async_trait::async_trait]
pub trait DynResource: Send + Sync {
    /// The Terraform type name.
    fn type_name(&self) -> &'static str;
    /// The derived schema (computed once).
    fn schema(&self) -> &Derived;
    /// Validates a configuration (unknown parts are skipped).
    fn validate(&self, config: &Value) -> Diagnostics;
    /// Plans a change from `prior` (null on create) to `config` (null on destroy).
    async fn plan(
        &self,
        ctx: &Context,
        prior: &Value,
        config: &Value,
    ) -> Result<Planned, Diagnostics>;
    /// Applies a planned state (null: destroy); returns the new state, or on failure the
    /// diagnostics with the partial new state when part of the change happened.
    async fn apply(
        &self,
        ctx: &Context,
        prior: &Value,
        planned: &Value,
    ) -> Result<Value, ApplyFailure<Value>>;
    /// Refreshes a state; null when the resource is gone.
    async fn read(&self, ctx: &Context, state: &Value) -> Result<Value, Diagnostics>;
    /// Imports by id.
    async fn import(&self, ctx: &Context, id: &str) -> Result<Value, Diagnostics>;
    /// Upgrades stored state JSON of schema `version`.
    fn upgrade(&self, version: i64, state: Json) -> Result<Value, Diagnostics>;
}

/// Adapts a [`Resource`] to [`DynResource`].
pub struct Typed<R: Resource> {
    resource: R,
    schema: OnceLock<Derived>,
}

impl<R: Resource> Typed<R> {
    /// Wraps `resource`; its schema is derived on first use.
    pub fn new(resource: R) -> Self {
        Self {
            resource,
            schema: OnceLock::new(),
        }
    }

    fn derived(&self) -> &Derived {
        self.schema.get_or_init(|| {
            let spec = serde_json::to_value(schemars::schema_for!(R::Spec)).unwrap_or_default();
            let computed =
                serde_json::to_value(schemars::schema_for!(R::Computed)).unwrap_or_default();
            // A spec that cannot be expressed is a programming error caught by the tests.
            Derived::new(&spec, Some(&computed), R::SCHEMA_VERSION, "")
                .unwrap_or_else(|e| panic!("{}: {e}", R::TYPE_NAME))
        })
    }

    fn decode_spec(&self, obj: &Value) -> Result<R::Spec, Diagnostics> {
        decode_spec(self.derived(), obj)
    }

    fn decode_computed(&self, obj: &Value) -> Result<R::Computed, Diagnostics> {
        let s = self.derived();
        let json = s
            .block
            .spec_json(obj, &|k| !s.spec_attrs.contains(k))
            .unwrap_or_default();
        decode_at(&s.block, json)
    }

    fn state(
        &self,
        spec_part: &Value,
        computed: Option<&R::Computed>,
    ) -> Result<Value, Diagnostics> {
        object_of(self.derived(), spec_part, computed)
    }

    fn spec_value(&self, spec: &R::Spec) -> Result<Value, Diagnostics> {
        let s = self.derived();
        let json = serde_json::to_value(spec).map_err(|e| internal(&e.to_string()))?;
        let mut out = BTreeMap::new();
        for a in &s.block.attributes {
            if s.spec_attrs.contains(&a.name) {
                let v = match json.get(&a.name) {
                    Some(v) => {
                        Value::from_json(v, &a.kind.ty()).map_err(|e| internal(&e.to_string()))?
                    }
                    None => Value::Null,
                };
                out.insert(a.name.clone(), v);
            }
        }
        Ok(s.block.fill_defaults(Value::Object(out)))
    }
}

/// Validates a configuration with its defaults filled in: decoding errors, then `check`.
/// Parts still unknown are skipped (Terraform validates again once they are known).
pub(crate) fn validate_config<T: DeserializeOwned>(
    s: &Derived,
    config: &Value,
    check: impl FnOnce(&T) -> Diagnostics,
) -> Diagnostics {
    let filled = s.block.fill_defaults(config.clone());
    if !filled.is_fully_known() {
        return Diagnostics::new();
    }
    match decode_spec::<T>(s, &filled) {
        Ok(spec) => check(&spec),
        Err(d) => d,
    }
}

/// The spec attributes of a fully known object, decoded into `T`.
pub(crate) fn decode_spec<T: DeserializeOwned>(s: &Derived, obj: &Value) -> Result<T, Diagnostics> {
    let json = s
        .block
        .spec_json(obj, &|k| s.spec_attrs.contains(k))
        .ok_or_else(|| {
            diagnostics::error(
                AttrPath::root(),
                "Unknown values",
                "The configuration still has unknown values here; this is a provider bug.",
            )
        })?;
    decode_at(&s.block, json)
}

/// The object of the spec attributes of `spec_part` plus `computed` (or all computed
/// attributes unknown).
pub(crate) fn object_of<C: Serialize>(
    s: &Derived,
    spec_part: &Value,
    computed: Option<&C>,
) -> Result<Value, Diagnostics> {
    let computed_json = match computed {
        Some(c) => Some(serde_json::to_value(c).map_err(|e| internal(&e.to_string()))?),
        None => None,
    };
    let Value::Object(spec_attrs) = spec_part else {
        return Err(internal("the configuration is not an object"));
    };
    let mut out = BTreeMap::new();
    for a in &s.block.attributes {
        let v = if s.spec_attrs.contains(&a.name) {
            spec_attrs.get(&a.name).cloned().unwrap_or(Value::Null)
        } else {
            match &computed_json {
                None => Value::Unknown,
                Some(j) => match j.get(&a.name) {
                    Some(v) => {
                        Value::from_json(v, &a.kind.ty()).map_err(|e| internal(&e.to_string()))?
                    }
                    None => Value::Null,
                },
            }
        };
        out.insert(a.name.clone(), v);
    }
    Ok(Value::Object(out))
}

fn internal(why: &str) -> Diagnostics {
    diagnostics::error(
        AttrPath::root(),
        "Internal provider error",
        format!("{why}. This is a bug in the provider; please report it."),
    )
}

pub(crate) fn decode_at<T: DeserializeOwned>(
    block: &crate::schema::Block,
    json: Json,
) -> Result<T, Diagnostics> {
    serde_path_to_error::deserialize(json).map_err(|e| {
        let mut path = block.attr_path(e.path());
        let msg = e.inner().to_string();
        // serde reports a missing field at its parent; point at the field itself.
        if let Some(field) = msg
            .strip_prefix("missing field `")
            .and_then(|r| r.split('`').next())
        {
            path = path.at(field);
        }
        diagnostics::error(path, "Invalid attribute value", format!("{msg}."))
    })
}

#[async_trait::async_trait]
impl<R: Resource> DynResource for Typed<R> {
    fn type_name(&self) -> &'static str {
        R::TYPE_NAME
    }

    fn schema(&self) -> &Derived {
        self.derived()
    }

    fn validate(&self, config: &Value) -> Diagnostics {
        validate_config(self.derived(), config, |spec: &R::Spec| {
            self.resource.validate(spec)
        })
    }

    async fn plan(
        &self,
        ctx: &Context,
        prior: &Value,
        config: &Value,
    ) -> Result<Planned, Diagnostics> {
        if matches!(config, Value::Null) {
            return Ok(Planned {
                state: Value::Null,
                requires_replace: Vec::new(),
                warnings: Diagnostics::new(),
            });
        }
        let s = self.derived();
        let mut filled = s.block.fill_defaults(config.clone());
        let mut warnings = Diagnostics::new();
        let state = if filled.is_fully_known() {
            let spec = self.decode_spec(&filled)?;
            let d = self.resource.validate(&spec);
            if d.has_errors() {
                return Err(d);
            }
            let spec = self.resource.resolve(ctx, spec).await?;
            if let (Value::Object(attrs), Value::Object(resolved)) =
                (&mut filled, self.spec_value(&spec)?)
            {
                for a in s.block.attributes.iter().filter(|a| a.resolved) {
                    if matches!(attrs.get(&a.name), None | Some(Value::Null)) {
                        let v = resolved.get(&a.name).cloned().unwrap_or(Value::Null);
                        attrs.insert(a.name.clone(), v);
                    }
                }
            }
            let prior_computed = match prior {
                Value::Null => None,
                p => self.decode_computed(p).ok(),
            };
            let computed = self
                .resource
                .plan(ctx, &spec, prior_computed.as_ref())
                .await?;
            warnings = self.resource.plan_warnings(ctx, &spec, &computed).await;
            // A computed attribute planned as null is "known after apply".
            match self.state(&filled, Some(&computed))? {
                Value::Object(mut attrs) => {
                    for (name, v) in attrs.iter_mut() {
                        if !s.spec_attrs.contains(name) && matches!(v, Value::Null) {
                            *v = Value::Unknown;
                        }
                    }
                    Value::Object(attrs)
                }
                other => other,
            }
        } else {
            // Resolved from other resources once the configuration is known.
            if let Value::Object(attrs) = &mut filled {
                for a in s.block.attributes.iter().filter(|a| a.resolved) {
                    if matches!(attrs.get(&a.name), None | Some(Value::Null)) {
                        attrs.insert(a.name.clone(), Value::Unknown);
                    }
                }
            }
            self.state(&filled, None)?
        };
        let requires_replace = match prior {
            Value::Null => Vec::new(),
            p => s.block.changed(p, &state, R::REQUIRES_REPLACE),
        };
        Ok(Planned {
            state,
            requires_replace,
            warnings,
        })
    }

    async fn apply(
        &self,
        ctx: &Context,
        prior: &Value,
        planned: &Value,
    ) -> Result<Value, ApplyFailure<Value>> {
        let prior_typed = match prior {
            Value::Null => None,
            p => Some((self.decode_spec(p)?, self.decode_computed(p)?)),
        };
        if matches!(planned, Value::Null) {
            if let Some((spec, computed)) = &prior_typed {
                self.resource.delete(ctx, spec, computed).await?;
            }
            return Ok(Value::Null);
        }
        let spec = self.decode_spec(planned)?;
        match self
            .resource
            .apply(ctx, &spec, prior_typed.as_ref().map(|(s, c)| (s, c)))
            .await
        {
            Ok(computed) => Ok(self.state(planned, Some(&computed))?),
            Err(ApplyFailure {
                diagnostics,
                partial,
            }) => Err(ApplyFailure {
                partial: partial.and_then(|c| self.state(planned, Some(&c)).ok()),
                diagnostics,
            }),
        }
    }

    async fn read(&self, ctx: &Context, state: &Value) -> Result<Value, Diagnostics> {
        if matches!(state, Value::Null) {
            return Ok(Value::Null);
        }
        let spec = self.decode_spec(state)?;
        let computed = self.decode_computed(state)?;
        match self.resource.read(ctx, &spec, &computed).await? {
            Some(fresh) => self.state(state, Some(&fresh)),
            None => Ok(Value::Null),
        }
    }

    async fn import(&self, ctx: &Context, id: &str) -> Result<Value, Diagnostics> {
        let (spec, computed) = self.resource.import(ctx, id).await?;
        let spec_value = self.spec_value(&spec)?;
        self.state(&spec_value, Some(&computed))
    }

    fn upgrade(&self, version: i64, state: Json) -> Result<Value, Diagnostics> {
        let json = self.resource.upgrade(version, state)?;
        let s = self.derived();
        let mut out = BTreeMap::new();
        for a in &s.block.attributes {
            let v = match json.get(&a.name) {
                Some(v) => Value::from_json(v, &a.kind.ty()).map_err(|e| {
                    diagnostics::error(
                        AttrPath::attr(a.name.clone()),
                        "Stored state does not fit the schema",
                        format!("Converting the stored value failed: {e}."),
                    )
                })?,
                None => Value::Null,
            };
            out.insert(a.name.clone(), v);
        }
        Ok(Value::Object(out))
    }
}

/// Every resource type the provider serves.
#[derive(Clone)]
pub struct Registry {
    resources: Arc<BTreeMap<&'static str, Arc<dyn DynResource>>>,
    ephemeral: Arc<BTreeMap<&'static str, Arc<dyn DynEphemeral>>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.resources.keys().chain(self.ephemeral.keys()))
            .finish()
    }
}

impl Registry {
    /// A registry of the given resources.
    pub fn of(resources: Vec<Arc<dyn DynResource>>) -> Self {
        Self {
            resources: Arc::new(resources.into_iter().map(|r| (r.type_name(), r)).collect()),
            ephemeral: Arc::default(),
        }
    }

    /// The same registry serving these ephemeral resource types too.
    #[must_use]
    pub fn with_ephemeral(mut self, ephemeral: Vec<Arc<dyn DynEphemeral>>) -> Self {
        self.ephemeral = Arc::new(ephemeral.into_iter().map(|r| (r.type_name(), r)).collect());
        self
    }

    /// The ephemeral resource type called `name`.
    pub fn ephemeral(&self, name: &str) -> Option<&Arc<dyn DynEphemeral>> {
        self.ephemeral.get(name)
    }

    /// All ephemeral resource types, by name.
    pub fn iter_ephemeral(&self) -> impl Iterator<Item = (&'static str, &Arc<dyn DynEphemeral>)> {
        self.ephemeral.iter().map(|(k, v)| (*k, v))
    }

    /// The resource type called `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<dyn DynResource>> {
        self.resources.get(name)
    }

    /// All resource types, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &Arc<dyn DynResource>)> {
        self.resources.iter().map(|(k, v)| (*k, v))
    }
}

/// Wraps a typed resource for the registry.
pub fn register<R: Resource>(resource: R) -> Arc<dyn DynResource> {
    Arc::new(Typed::new(resource))
}
