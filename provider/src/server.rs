//! The tfplugin6 `Provider` service: decodes Terraform's values, drives the
//! [`Registry`]'s resources and encodes the answers. Every handler runs in its own task,
//! so a panic becomes an error diagnostic and the plugin keeps serving.

use std::future::Future;
use std::sync::{Arc, OnceLock, RwLock};

use ipai_codegen::{AttrPath, Diagnostics};
use tonic::{Request, Response, Status};

use crate::config::{Context, ProviderConfig};
use crate::diagnostics::{self, all_to_proto};
use crate::framework::{ApplyFailure, DynEphemeral, DynResource, Registry, decode_at};
use crate::proto::tfplugin6 as pb;
use crate::schema::Derived;
use crate::value::{self, Type, Value};

/// The provider's gRPC service.
#[derive(Debug, Clone)]
pub struct ProviderService {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    registry: Registry,
    context: RwLock<Option<Arc<Context>>>,
    provider_schema: OnceLock<Derived>,
    schema_response: OnceLock<pb::get_provider_schema::Response>,
}

impl ProviderService {
    /// A service serving the resources of `registry`; nothing is computed until asked.
    pub fn new(registry: Registry) -> Self {
        Self {
            inner: Arc::new(Inner {
                registry,
                context: RwLock::new(None),
                provider_schema: OnceLock::new(),
                schema_response: OnceLock::new(),
            }),
        }
    }
}

/// A response that can carry diagnostics, so failures (and panics) become diagnostics.
trait Diagnosed: Default {
    fn diagnostics_mut(&mut self) -> &mut Vec<pb::Diagnostic>;

    fn failed(d: &Diagnostics) -> Self {
        let mut r = Self::default();
        r.diagnostics_mut().extend(all_to_proto(d));
        r
    }
}

/// A request the service answers through [`ProviderService::serve`].
trait Rpc: Send + 'static {
    /// The response that carries the handler's diagnostics.
    type Response: Diagnosed + Send + 'static;

    /// What Terraform gets next to the diagnostics when the handler fails.
    fn failure(&self) -> Self::Response {
        Self::Response::default()
    }
}

/// `rpc!(module, …)`: the module's `Response` carries diagnostics; `Request` answers
/// with an empty response on failure, unless it has its own [`Rpc`] impl (`diagnosed`).
macro_rules! rpc {
    (@diagnosed $($m:ident),* $(,)?) => {$(
        impl Diagnosed for pb::$m::Response {
            fn diagnostics_mut(&mut self) -> &mut Vec<pb::Diagnostic> {
                &mut self.diagnostics
            }
        }
    )*};
    ($($m:ident),* $(,)?) => {
        rpc!(@diagnosed $($m),*);
        $(impl Rpc for pb::$m::Request {
            type Response = pb::$m::Response;
        })*
    };
}

rpc!(
    get_metadata,
    get_provider_schema,
    validate_provider_config,
    configure_provider,
    validate_resource_config,
    upgrade_resource_state,
    plan_resource_change,
    import_resource_state,
    validate_ephemeral_resource_config,
    open_ephemeral_resource,
    renew_ephemeral_resource,
    close_ephemeral_resource,
);
rpc!(@diagnosed read_resource, apply_resource_change);

impl Rpc for pb::read_resource::Request {
    type Response = pb::read_resource::Response;

    fn failure(&self) -> Self::Response {
        // Keep what Terraform had, so a failed refresh loses nothing.
        pb::read_resource::Response {
            new_state: self.current_state.clone(),
            private: self.private.clone(),
            ..Default::default()
        }
    }
}

impl Rpc for pb::apply_resource_change::Request {
    type Response = pb::apply_resource_change::Response;

    fn failure(&self) -> Self::Response {
        // A failed change leaves the prior state (null for a failed create).
        pb::apply_resource_change::Response {
            new_state: self.prior_state.clone(),
            private: self.planned_private.clone(),
            ..Default::default()
        }
    }
}

impl ProviderService {
    /// Runs `handler` on the request in its own task (see [`guarded`]); the diagnostics it
    /// fails with go into the request's [`Rpc::failure`] response.
    async fn serve<Q, F, Fut>(
        &self,
        req: Request<Q>,
        handler: F,
    ) -> Result<Response<Q::Response>, Status>
    where
        Q: Rpc,
        F: FnOnce(Arc<Inner>, Q) -> Fut + Send + 'static,
        Fut: Future<Output = Result<Q::Response, Diagnostics>> + Send,
    {
        let inner = self.inner.clone();
        let req = req.into_inner();
        guarded(async move {
            let failure = req.failure();
            handler(inner, req).await.unwrap_or_else(|d| {
                let mut r = failure;
                r.diagnostics_mut().extend(all_to_proto(&d));
                r
            })
        })
        .await
    }
}

/// Runs a handler in its own task; a panic becomes an error diagnostic.
async fn guarded<T, F>(fut: F) -> Result<Response<T>, Status>
where
    T: Diagnosed + Send + 'static,
    F: Future<Output = T> + Send + 'static,
{
    match tokio::spawn(fut).await {
        Ok(r) => Ok(Response::new(r)),
        Err(e) => {
            let why = if e.is_panic() {
                panic_message(e.into_panic())
            } else {
                "the request was cancelled".to_owned()
            };
            Ok(Response::new(T::failed(&diagnostics::error(
                AttrPath::root(),
                "Internal provider error",
                format!(
                    "The provider failed while handling this request ({why}). This is a bug in \
                     the provider; please report it. The provider is still running."
                ),
            ))))
        }
    }
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".to_owned())
}

fn decode(v: Option<&pb::DynamicValue>, ty: &Type) -> Result<Value, Diagnostics> {
    let Some(v) = v else {
        return Ok(Value::Null);
    };
    let decoded = if !v.msgpack.is_empty() {
        value::msgpack::decode(&v.msgpack, ty).map_err(|e| e.to_string())
    } else if !v.json.is_empty() {
        value::json::decode(&v.json, ty).map_err(|e| e.to_string())
    } else {
        Ok(Value::Null)
    };
    decoded.map_err(|e| {
        diagnostics::error(
            AttrPath::root(),
            "Value does not match the schema",
            format!("Terraform sent a value this provider cannot decode: {e}."),
        )
    })
}

fn encode(v: &Value, ty: &Type) -> Result<pb::DynamicValue, Diagnostics> {
    value::msgpack::encode(v, ty)
        .map(|msgpack| pb::DynamicValue {
            msgpack,
            json: Vec::new(),
        })
        .map_err(|e| {
            diagnostics::error(
                AttrPath::root(),
                "Internal provider error",
                format!(
                    "Encoding a value for Terraform failed: {e}. This is a bug in the provider."
                ),
            )
        })
}

impl Inner {
    fn provider_schema(&self) -> &Derived {
        self.provider_schema.get_or_init(|| {
            let spec =
                serde_json::to_value(schemars::schema_for!(ProviderConfig)).unwrap_or_default();
            Derived::provider(
                &spec,
                "Generates the InsightPulseAI AI Workbench (Kubernetes manifests, Supabase SQL, \
                 DigitalOcean objects) from four high-level resources.",
            )
            .unwrap_or_else(|e| panic!("provider configuration: {e}"))
        })
    }

    fn resource(&self, type_name: &str) -> Result<Arc<dyn DynResource>, Diagnostics> {
        self.registry.get(type_name).cloned().ok_or_else(|| {
            diagnostics::error(
                AttrPath::root(),
                "Unknown resource type",
                format!(
                    "This provider has no resource type {type_name:?}; it serves {}.",
                    self.registry
                        .iter()
                        .map(|(n, _)| n)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        })
    }

    fn ephemeral(&self, type_name: &str) -> Result<Arc<dyn DynEphemeral>, Diagnostics> {
        self.registry.ephemeral(type_name).cloned().ok_or_else(|| {
            diagnostics::error(
                AttrPath::root(),
                "Unknown ephemeral resource type",
                format!(
                    "This provider has no ephemeral resource type {type_name:?}; it serves {}.",
                    self.registry
                        .iter_ephemeral()
                        .map(|(n, _)| n)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        })
    }

    fn context(&self) -> Result<Arc<Context>, Diagnostics> {
        self.context
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or_else(|| {
                diagnostics::error(
                    AttrPath::root(),
                    "Provider not configured",
                    "Terraform did not configure the provider before using it.",
                )
            })
    }

    fn decode_config(
        &self,
        v: Option<&pb::DynamicValue>,
    ) -> Result<Option<ProviderConfig>, Diagnostics> {
        let s = self.provider_schema();
        let value = decode(v, &s.ty)?;
        if !value.is_fully_known() {
            return Ok(None);
        }
        let json = s.block.spec_json(&value, &|_| true).unwrap_or_default();
        decode_at(&s.block, json).map(Some)
    }

    fn schema_response(&self) -> pb::get_provider_schema::Response {
        self.schema_response
            .get_or_init(|| pb::get_provider_schema::Response {
                provider: Some(self.provider_schema().proto.clone()),
                resource_schemas: self
                    .registry
                    .iter()
                    .map(|(n, r)| (n.to_owned(), r.schema().proto.clone()))
                    .collect(),
                ephemeral_resource_schemas: self
                    .registry
                    .iter_ephemeral()
                    .map(|(n, r)| (n.to_owned(), r.schema().proto.clone()))
                    .collect(),
                server_capabilities: Some(capabilities()),
                ..Default::default()
            })
            .clone()
    }
}

fn capabilities() -> pb::ServerCapabilities {
    pb::ServerCapabilities {
        plan_destroy: false,
        get_provider_schema_optional: true,
        move_resource_state: false,
    }
}

#[tonic::async_trait]
impl pb::provider_server::Provider for ProviderService {
    async fn get_metadata(
        &self,
        req: Request<pb::get_metadata::Request>,
    ) -> Result<Response<pb::get_metadata::Response>, Status> {
        self.serve(req, |inner, _| async move {
            Ok(pb::get_metadata::Response {
                server_capabilities: Some(capabilities()),
                resources: inner
                    .registry
                    .iter()
                    .map(|(n, _)| pb::get_metadata::ResourceMetadata {
                        type_name: n.to_owned(),
                    })
                    .collect(),
                ephemeral_resources: inner
                    .registry
                    .iter_ephemeral()
                    .map(|(n, _)| pb::get_metadata::EphemeralMetadata {
                        type_name: n.to_owned(),
                    })
                    .collect(),
                ..Default::default()
            })
        })
        .await
    }

    async fn get_provider_schema(
        &self,
        req: Request<pb::get_provider_schema::Request>,
    ) -> Result<Response<pb::get_provider_schema::Response>, Status> {
        self.serve(req, |inner, _| async move { Ok(inner.schema_response()) })
            .await
    }

    async fn get_resource_identity_schemas(
        &self,
        _req: Request<pb::get_resource_identity_schemas::Request>,
    ) -> Result<Response<pb::get_resource_identity_schemas::Response>, Status> {
        Ok(Response::new(Default::default()))
    }

    async fn get_functions(
        &self,
        _req: Request<pb::get_functions::Request>,
    ) -> Result<Response<pb::get_functions::Response>, Status> {
        Ok(Response::new(Default::default()))
    }

    async fn validate_provider_config(
        &self,
        req: Request<pb::validate_provider_config::Request>,
    ) -> Result<Response<pb::validate_provider_config::Response>, Status> {
        self.serve(req, |inner, req| async move {
            inner.decode_config(req.config.as_ref())?;
            Ok(Default::default())
        })
        .await
    }

    async fn configure_provider(
        &self,
        req: Request<pb::configure_provider::Request>,
    ) -> Result<Response<pb::configure_provider::Response>, Status> {
        self.serve(req, |inner, req| async move {
            let config = inner.decode_config(req.config.as_ref())?.ok_or_else(|| {
                diagnostics::error(
                    AttrPath::root(),
                    "Provider configuration is not known yet",
                    "The provider's attributes depend on values known only after apply; \
                     give them values known at plan time.",
                )
            })?;
            let ctx = Arc::new(Context::configure(config)?);
            *inner.context.write().unwrap_or_else(|p| p.into_inner()) = Some(ctx.clone());
            // Parse the templates while Terraform reads state, before the first plan needs them.
            tokio::task::spawn_blocking(move || ctx.renderer().map(drop));
            Ok(Default::default())
        })
        .await
    }

    async fn validate_resource_config(
        &self,
        req: Request<pb::validate_resource_config::Request>,
    ) -> Result<Response<pb::validate_resource_config::Response>, Status> {
        self.serve(req, |inner, req| async move {
            let r = inner.resource(&req.type_name)?;
            let config = decode(req.config.as_ref(), &r.schema().ty)?;
            Ok(pb::validate_resource_config::Response {
                diagnostics: all_to_proto(&r.validate(&config)),
            })
        })
        .await
    }

    async fn upgrade_resource_state(
        &self,
        req: Request<pb::upgrade_resource_state::Request>,
    ) -> Result<Response<pb::upgrade_resource_state::Response>, Status> {
        self.serve(req, |inner, req| async move {
            let r = inner.resource(&req.type_name)?;
            let raw = req.raw_state.unwrap_or_default();
            if raw.json.is_empty() {
                return Err(diagnostics::error(
                    AttrPath::root(),
                    "Unsupported state format",
                    "The stored state is in the legacy flatmap format, which this provider \
                     never wrote; remove the resource from state and import it.",
                ));
            }
            let json: serde_json::Value = serde_json::from_slice(&raw.json).map_err(|e| {
                diagnostics::error(
                    AttrPath::root(),
                    "Unreadable stored state",
                    format!("The stored state is not valid JSON: {e}."),
                )
            })?;
            let upgraded = r.upgrade(req.version, json)?;
            Ok(pb::upgrade_resource_state::Response {
                upgraded_state: Some(encode(&upgraded, &r.schema().ty)?),
                diagnostics: Vec::new(),
            })
        })
        .await
    }

    async fn read_resource(
        &self,
        req: Request<pb::read_resource::Request>,
    ) -> Result<Response<pb::read_resource::Response>, Status> {
        self.serve(req, |inner, req| async move {
            let r = inner.resource(&req.type_name)?;
            let ctx = inner.context()?;
            let ty = &r.schema().ty;
            let current = decode(req.current_state.as_ref(), ty)?;
            let fresh = r.read(&ctx, &current).await?;
            Ok(pb::read_resource::Response {
                new_state: Some(encode(&fresh, ty)?),
                private: req.private,
                ..Default::default()
            })
        })
        .await
    }

    async fn plan_resource_change(
        &self,
        req: Request<pb::plan_resource_change::Request>,
    ) -> Result<Response<pb::plan_resource_change::Response>, Status> {
        self.serve(req, |inner, req| async move {
            let r = inner.resource(&req.type_name)?;
            let ty = &r.schema().ty;
            let proposed = decode(req.proposed_new_state.as_ref(), ty)?;
            if matches!(proposed, Value::Null) {
                return Ok(pb::plan_resource_change::Response {
                    planned_state: req.proposed_new_state,
                    planned_private: req.prior_private,
                    ..Default::default()
                });
            }
            let ctx = inner.context()?;
            let prior = decode(req.prior_state.as_ref(), ty)?;
            let config = decode(req.config.as_ref(), ty)?;
            let planned = r.plan(&ctx, &prior, &config).await?;
            Ok(pb::plan_resource_change::Response {
                planned_state: Some(encode(&planned.state, ty)?),
                requires_replace: planned
                    .requires_replace
                    .iter()
                    .map(diagnostics::path_to_proto)
                    .collect(),
                planned_private: req.prior_private,
                diagnostics: diagnostics::all_to_proto(&planned.warnings),
                ..Default::default()
            })
        })
        .await
    }

    async fn apply_resource_change(
        &self,
        req: Request<pb::apply_resource_change::Request>,
    ) -> Result<Response<pb::apply_resource_change::Response>, Status> {
        self.serve(req, |inner, req| async move {
            let r = inner.resource(&req.type_name)?;
            let ctx = inner.context()?;
            let ty = &r.schema().ty;
            let prior = decode(req.prior_state.as_ref(), ty)?;
            let planned = decode(req.planned_state.as_ref(), ty)?;
            let (new_state, diagnostics) = match r.apply(&ctx, &prior, &planned).await {
                Ok(new_state) => (new_state, Diagnostics::new()),
                // A change that got part of the way: Terraform keeps this state with the
                // errors (tainted after a create), so destroy and the next apply see it.
                Err(ApplyFailure {
                    diagnostics,
                    partial: Some(partial),
                }) => (partial, diagnostics),
                Err(ApplyFailure {
                    diagnostics,
                    partial: None,
                }) => return Err(diagnostics),
            };
            let mut response = pb::apply_resource_change::Response {
                new_state: Some(encode(&new_state, ty)?),
                private: req.planned_private,
                ..Default::default()
            };
            response.diagnostics.extend(all_to_proto(&diagnostics));
            Ok(response)
        })
        .await
    }

    async fn import_resource_state(
        &self,
        req: Request<pb::import_resource_state::Request>,
    ) -> Result<Response<pb::import_resource_state::Response>, Status> {
        self.serve(req, |inner, req| async move {
            let r = inner.resource(&req.type_name)?;
            let ctx = inner.context()?;
            let state = r.import(&ctx, &req.id).await?;
            Ok(pb::import_resource_state::Response {
                imported_resources: vec![pb::import_resource_state::ImportedResource {
                    type_name: req.type_name,
                    state: Some(encode(&state, &r.schema().ty)?),
                    ..Default::default()
                }],
                ..Default::default()
            })
        })
        .await
    }

    async fn validate_ephemeral_resource_config(
        &self,
        req: Request<pb::validate_ephemeral_resource_config::Request>,
    ) -> Result<Response<pb::validate_ephemeral_resource_config::Response>, Status> {
        self.serve(req, |inner, req| async move {
            let r = inner.ephemeral(&req.type_name)?;
            let config = decode(req.config.as_ref(), &r.schema().ty)?;
            Ok(pb::validate_ephemeral_resource_config::Response {
                diagnostics: all_to_proto(&r.validate(&config)),
            })
        })
        .await
    }

    async fn open_ephemeral_resource(
        &self,
        req: Request<pb::open_ephemeral_resource::Request>,
    ) -> Result<Response<pb::open_ephemeral_resource::Response>, Status> {
        self.serve(req, |inner, req| async move {
            let r = inner.ephemeral(&req.type_name)?;
            let ctx = inner.context()?;
            let ty = &r.schema().ty;
            let config = decode(req.config.as_ref(), ty)?;
            let opened = r.open(&ctx, &config).await?;
            Ok(pb::open_ephemeral_resource::Response {
                result: Some(encode(&opened.result, ty)?),
                private: opened.private,
                renew_at: opened.renew_at.map(Into::into),
                ..Default::default()
            })
        })
        .await
    }

    async fn renew_ephemeral_resource(
        &self,
        req: Request<pb::renew_ephemeral_resource::Request>,
    ) -> Result<Response<pb::renew_ephemeral_resource::Response>, Status> {
        self.serve(req, |inner, req| async move {
            let r = inner.ephemeral(&req.type_name)?;
            let ctx = inner.context()?;
            let (private, renew_at) = r.renew(&ctx, req.private.as_deref()).await?;
            Ok(pb::renew_ephemeral_resource::Response {
                private,
                renew_at: renew_at.map(Into::into),
                ..Default::default()
            })
        })
        .await
    }

    async fn close_ephemeral_resource(
        &self,
        req: Request<pb::close_ephemeral_resource::Request>,
    ) -> Result<Response<pb::close_ephemeral_resource::Response>, Status> {
        self.serve(req, |inner, req| async move {
            let r = inner.ephemeral(&req.type_name)?;
            let ctx = inner.context()?;
            r.close(&ctx, req.private.as_deref()).await?;
            Ok(Default::default())
        })
        .await
    }

    async fn stop_provider(
        &self,
        _req: Request<pb::stop_provider::Request>,
    ) -> Result<Response<pb::stop_provider::Response>, Status> {
        // Every operation is short; there is nothing long-running to cancel.
        Ok(Response::new(pb::stop_provider::Response {
            error: String::new(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::{Resource, register};
    use pb::provider_server::Provider;
    use schemars::JsonSchema;
    use serde::{Deserialize, Serialize};

    /// A resource whose plan panics when asked to.
    struct Boom;

    #[derive(Serialize, Deserialize, JsonSchema)]
    struct BoomSpec {
        /// Panic in plan.
        panic: bool,
        /// Fail in apply after getting part of the way.
        #[serde(default)]
        fail_half_way: bool,
    }

    #[derive(Serialize, Deserialize, JsonSchema)]
    struct BoomComputed {
        /// Always "boom".
        id: String,
    }

    #[async_trait::async_trait]
    impl Resource for Boom {
        type Spec = BoomSpec;
        type Computed = BoomComputed;
        const TYPE_NAME: &'static str = "ipai_boom";

        fn validate(&self, _spec: &BoomSpec) -> Diagnostics {
            Diagnostics::new()
        }
        async fn plan(
            &self,
            _ctx: &Context,
            spec: &BoomSpec,
            _prior: Option<&BoomComputed>,
        ) -> Result<BoomComputed, Diagnostics> {
            assert!(!spec.panic, "asked to panic");
            Ok(BoomComputed { id: "boom".into() })
        }
        async fn apply(
            &self,
            _ctx: &Context,
            spec: &BoomSpec,
            _prior: Option<(&BoomSpec, &BoomComputed)>,
        ) -> Result<BoomComputed, ApplyFailure<BoomComputed>> {
            if spec.fail_half_way {
                return Err(ApplyFailure::partial(
                    diagnostics::error(AttrPath::root(), "Half-way", "Stopped half-way."),
                    BoomComputed { id: "half".into() },
                ));
            }
            Ok(BoomComputed { id: "boom".into() })
        }
        async fn read(
            &self,
            _ctx: &Context,
            _spec: &BoomSpec,
            state: &BoomComputed,
        ) -> Result<Option<BoomComputed>, Diagnostics> {
            Ok(Some(BoomComputed {
                id: state.id.clone(),
            }))
        }
        async fn delete(
            &self,
            _ctx: &Context,
            _spec: &BoomSpec,
            _state: &BoomComputed,
        ) -> Result<(), Diagnostics> {
            Ok(())
        }
        async fn import(
            &self,
            _ctx: &Context,
            _id: &str,
        ) -> Result<(BoomSpec, BoomComputed), Diagnostics> {
            Err(diagnostics::error(
                AttrPath::root(),
                "No import",
                "Not supported.",
            ))
        }
    }

    fn service() -> ProviderService {
        ProviderService::new(Registry::of(vec![
            register(Boom),
            register(crate::resources::workbench::Workbench),
        ]))
    }

    fn dynamic(json: serde_json::Value, ty: &Type) -> Option<pb::DynamicValue> {
        let v = Value::from_json(&json, ty).unwrap();
        Some(encode(&v, ty).unwrap())
    }

    async fn configure(svc: &ProviderService, dir: &std::path::Path) -> Vec<pb::Diagnostic> {
        let ty = svc.inner.provider_schema().ty.clone();
        svc.configure_provider(Request::new(pb::configure_provider::Request {
            config: dynamic(
                serde_json::json!({"output_dir": dir.display().to_string(), "files_only": true}),
                &ty,
            ),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner()
        .diagnostics
    }

    async fn plan(
        svc: &ProviderService,
        type_name: &str,
        prior: serde_json::Value,
        config: serde_json::Value,
    ) -> pb::plan_resource_change::Response {
        let ty = svc.inner.resource(type_name).unwrap().schema().ty.clone();
        svc.plan_resource_change(Request::new(pb::plan_resource_change::Request {
            type_name: type_name.into(),
            prior_state: dynamic(prior, &ty),
            proposed_new_state: dynamic(config.clone(), &ty),
            config: dynamic(config, &ty),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner()
    }

    #[tokio::test]
    async fn a_panicking_handler_becomes_a_diagnostic_and_serving_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let svc = service();
        assert!(configure(&svc, dir.path()).await.is_empty());
        let r = plan(
            &svc,
            "ipai_boom",
            serde_json::Value::Null,
            serde_json::json!({"panic": true}),
        )
        .await;
        assert_eq!(r.diagnostics.len(), 1);
        assert_eq!(
            r.diagnostics[0].severity,
            pb::diagnostic::Severity::Error as i32
        );
        assert!(
            r.diagnostics[0].detail.contains("asked to panic"),
            "{}",
            r.diagnostics[0].detail
        );
        let r = plan(
            &svc,
            "ipai_boom",
            serde_json::Value::Null,
            serde_json::json!({"panic": false}),
        )
        .await;
        assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
        assert!(r.planned_state.is_some());
    }

    #[tokio::test]
    async fn a_failed_apply_returns_its_partial_state_with_the_errors() {
        let dir = tempfile::tempdir().unwrap();
        let svc = service();
        assert!(configure(&svc, dir.path()).await.is_empty());
        let ty = svc.inner.resource("ipai_boom").unwrap().schema().ty.clone();
        let apply = |fail: bool| {
            let planned = Value::Object(
                [
                    ("panic".to_owned(), Value::Bool(false)),
                    ("fail_half_way".to_owned(), Value::Bool(fail)),
                    ("id".to_owned(), Value::Unknown),
                ]
                .into(),
            );
            svc.apply_resource_change(Request::new(pb::apply_resource_change::Request {
                type_name: "ipai_boom".into(),
                planned_state: Some(encode(&planned, &ty).unwrap()),
                ..Default::default()
            }))
        };
        let failed = apply(true).await.unwrap().into_inner();
        assert_eq!(failed.diagnostics.len(), 1);
        assert_eq!(failed.diagnostics[0].summary, "Half-way");
        let state = decode(failed.new_state.as_ref(), &ty).unwrap();
        assert_eq!(
            state.to_json().unwrap()["id"],
            "half",
            "the partial state is kept"
        );
        let ok = apply(false).await.unwrap().into_inner();
        assert!(ok.diagnostics.is_empty());
        let state = decode(ok.new_state.as_ref(), &ty).unwrap();
        assert_eq!(state.to_json().unwrap()["id"], "boom");
    }

    #[tokio::test]
    async fn plan_fills_defaults_and_propagates_unknowns() {
        let dir = tempfile::tempdir().unwrap();
        let svc = service();
        configure(&svc, dir.path()).await;
        let ty = svc
            .inner
            .resource("ipai_workbench")
            .unwrap()
            .schema()
            .ty
            .clone();
        // name unknown: everything computed is unknown, defaults are still filled in.
        let mut config = Value::from_json(&serde_json::json!({}), &ty).unwrap();
        if let Value::Object(m) = &mut config {
            m.insert("name".into(), Value::Unknown);
        }
        let dv = encode(&config, &ty).unwrap();
        let r = svc
            .plan_resource_change(Request::new(pb::plan_resource_change::Request {
                type_name: "ipai_workbench".into(),
                proposed_new_state: Some(dv.clone()),
                config: Some(dv),
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner();
        assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
        let planned = value::msgpack::decode(&r.planned_state.unwrap().msgpack, &ty).unwrap();
        assert_eq!(planned.get_attr("files"), Some(&Value::Unknown));
        assert_eq!(planned.get_attr("id"), Some(&Value::Unknown));
        assert_eq!(
            planned.get_attr("region"),
            Some(&Value::String("sgp1".into()))
        );
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "planning wrote nothing"
        );
    }

    #[tokio::test]
    async fn bad_names_are_diagnostics_on_the_attribute_and_nothing_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let svc = service();
        configure(&svc, dir.path()).await;
        let r = plan(
            &svc,
            "ipai_workbench",
            serde_json::Value::Null,
            serde_json::json!({"name": "x".repeat(64)}),
        )
        .await;
        assert_eq!(r.diagnostics.len(), 1);
        let path = diagnostics::path_from_proto(r.diagnostics[0].attribute.as_ref().unwrap());
        assert_eq!(path, AttrPath::attr("name"));
        assert!(r.planned_state.is_none());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[tokio::test]
    async fn renaming_a_workbench_requires_replacement() {
        let dir = tempfile::tempdir().unwrap();
        let svc = service();
        configure(&svc, dir.path()).await;
        let first = plan(
            &svc,
            "ipai_workbench",
            serde_json::Value::Null,
            serde_json::json!({"name": "a"}),
        )
        .await;
        let ty = svc
            .inner
            .resource("ipai_workbench")
            .unwrap()
            .schema()
            .ty
            .clone();
        let prior = value::msgpack::decode(&first.planned_state.unwrap().msgpack, &ty).unwrap();
        let r = plan(
            &svc,
            "ipai_workbench",
            prior.to_json().unwrap(),
            serde_json::json!({"name": "b"}),
        )
        .await;
        let paths: Vec<_> = r
            .requires_replace
            .iter()
            .map(diagnostics::path_from_proto)
            .collect();
        assert_eq!(paths, vec![AttrPath::attr("name")]);
        let same = plan(
            &svc,
            "ipai_workbench",
            prior.to_json().unwrap(),
            serde_json::json!({"name": "a", "domain": "example.org"}),
        )
        .await;
        assert!(same.requires_replace.is_empty());
    }

    #[tokio::test]
    async fn an_unwritable_output_dir_is_reported_on_output_dir() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("file");
        std::fs::write(&file, "").unwrap();
        let d = configure(&service(), &file.join("out")).await;
        assert_eq!(d.len(), 1);
        assert_eq!(
            diagnostics::path_from_proto(d[0].attribute.as_ref().unwrap()),
            AttrPath::attr("output_dir")
        );
    }

    #[tokio::test]
    async fn schema_is_served_with_optional_fetch() {
        let r = service()
            .get_provider_schema(Request::new(pb::get_provider_schema::Request {}))
            .await
            .unwrap()
            .into_inner();
        assert!(r.server_capabilities.unwrap().get_provider_schema_optional);
        let provider = r.provider.unwrap().block.unwrap();
        let out = provider
            .attributes
            .iter()
            .find(|a| a.name == "output_dir")
            .unwrap();
        assert!(out.required && !out.computed);
        let wb = r.resource_schemas["ipai_workbench"].block.clone().unwrap();
        let files = wb.attributes.iter().find(|a| a.name == "files").unwrap();
        assert!(files.computed && !files.optional && !files.required);
        assert_eq!(files.r#type, br#"["map","string"]"#);
    }
}
