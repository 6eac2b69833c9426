//! Ephemeral resources (Terraform >= 1.10): implement [`EphemeralResource`] and add it with
//! [`super::Registry::with_ephemeral`]. Terraform opens one when a value is needed (plan
//! and apply alike), may renew it while it is in use, closes it at the end of the run, and
//! never writes its result to plan or state.
//!
//! The schema is derived like a resource's: `Spec` is the configuration, `Result` the
//! attributes the provider fills in (Computed). When the configuration still has unknown
//! values Terraform does not call Open at all, so `open` always sees a known spec.

use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use ipai_codegen::{AttrPath, Diagnostics};
use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{decode_spec, internal, object_of, validate_config};
use crate::config::Context;
use crate::diagnostics;
use crate::schema::Derived;
use crate::value::Value;

/// What [`EphemeralResource::open`] produced.
#[derive(Debug, Clone, PartialEq)]
pub enum Opened<R, P> {
    /// The values, and what Renew and Close need.
    Ready {
        /// The result attributes.
        result: R,
        /// Handed back to renew and close (kept by Terraform for this run only).
        private: P,
        /// When Terraform should renew it if still in use; `None`: never.
        renew_at: Option<SystemTime>,
    },
    /// Not there yet (an object created later in this run): every result attribute is
    /// unknown, which Terraform accepts during plan.
    Unknown,
}

/// What [`EphemeralResource::renew`] produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Renewed<P> {
    /// Handed to the next renew and to close.
    pub private: P,
    /// The next renewal; `None`: no more.
    pub renew_at: Option<SystemTime>,
}

/// One ephemeral resource type, typed by its configuration.
#[async_trait::async_trait]
pub trait EphemeralResource: Send + Sync + 'static {
    /// The configuration (`serde` + `schemars`).
    type Spec: Serialize + DeserializeOwned + JsonSchema + Send + Sync;
    /// The attributes the provider fills in: a struct whose fields become Computed.
    type Result: Serialize + DeserializeOwned + JsonSchema + Send + Sync;
    /// What renew and close need; it travels through Terraform (never to disk), so it
    /// holds no secret.
    type Private: Serialize + DeserializeOwned + Send + Sync;

    /// The Terraform type name, e.g. `ipai_kubeconfig`.
    const TYPE_NAME: &'static str;

    /// Checks a fully known spec (no provider configuration needed).
    fn validate(&self, _spec: &Self::Spec) -> Diagnostics {
        Diagnostics::new()
    }

    /// Fetches the values.
    async fn open(
        &self,
        ctx: &Context,
        spec: &Self::Spec,
    ) -> Result<Opened<Self::Result, Self::Private>, Diagnostics>;

    /// Called at the `renew_at` of the last open or renew while Terraform still uses the
    /// values.
    async fn renew(
        &self,
        _ctx: &Context,
        private: Self::Private,
    ) -> Result<Renewed<Self::Private>, Diagnostics> {
        Ok(Renewed {
            private,
            renew_at: None,
        })
    }

    /// Releases what open acquired.
    async fn close(&self, _ctx: &Context, _private: Self::Private) -> Result<(), Diagnostics> {
        Ok(())
    }
}

/// An opened ephemeral resource, untyped.
#[derive(Debug, Clone, PartialEq)]
pub struct DynOpened {
    /// The result object (config attributes plus result attributes).
    pub result: Value,
    /// The private bytes for renew and close.
    pub private: Option<Vec<u8>>,
    /// The next renewal.
    pub renew_at: Option<SystemTime>,
}

/// An ephemeral resource type without its types: what the gRPC server drives.
#[async_trait::async_trait]
pub trait DynEphemeral: Send + Sync {
    /// The Terraform type name.
    fn type_name(&self) -> &'static str;
    /// The derived schema (computed once).
    fn schema(&self) -> &Derived;
    /// Validates a configuration (unknown parts are skipped).
    fn validate(&self, config: &Value) -> Diagnostics;
    /// Opens it for a fully known configuration.
    async fn open(&self, ctx: &Context, config: &Value) -> Result<DynOpened, Diagnostics>;
    /// Renews it; returns the new private bytes and the next renewal.
    async fn renew(
        &self,
        ctx: &Context,
        private: Option<&[u8]>,
    ) -> Result<(Option<Vec<u8>>, Option<SystemTime>), Diagnostics>;
    /// Closes it.
    async fn close(&self, ctx: &Context, private: Option<&[u8]>) -> Result<(), Diagnostics>;
}

/// Adapts an [`EphemeralResource`] to [`DynEphemeral`].
pub struct TypedEphemeral<E: EphemeralResource> {
    resource: E,
    schema: OnceLock<Derived>,
}

impl<E: EphemeralResource> TypedEphemeral<E> {
    fn derived(&self) -> &Derived {
        self.schema.get_or_init(|| {
            let spec = serde_json::to_value(schemars::schema_for!(E::Spec)).unwrap_or_default();
            let result = serde_json::to_value(schemars::schema_for!(E::Result)).unwrap_or_default();
            // A spec that cannot be expressed is a programming error caught by the tests.
            Derived::new(&spec, Some(&result), 0, "")
                .unwrap_or_else(|e| panic!("{}: {e}", E::TYPE_NAME))
        })
    }

    fn private(&self, bytes: Option<&[u8]>) -> Result<E::Private, Diagnostics> {
        serde_json::from_slice(bytes.unwrap_or_default()).map_err(|e| {
            diagnostics::error(
                AttrPath::root(),
                "Unreadable ephemeral resource data",
                format!(
                    "Terraform handed back {} data this provider cannot read ({e}); run the \
                     command again.",
                    E::TYPE_NAME
                ),
            )
        })
    }
}

fn private_bytes<P: Serialize>(p: &P) -> Result<Vec<u8>, Diagnostics> {
    serde_json::to_vec(p).map_err(|e| internal(&e.to_string()))
}

#[async_trait::async_trait]
impl<E: EphemeralResource> DynEphemeral for TypedEphemeral<E> {
    fn type_name(&self) -> &'static str {
        E::TYPE_NAME
    }

    fn schema(&self) -> &Derived {
        self.derived()
    }

    fn validate(&self, config: &Value) -> Diagnostics {
        validate_config(self.derived(), config, |spec: &E::Spec| {
            self.resource.validate(spec)
        })
    }

    async fn open(&self, ctx: &Context, config: &Value) -> Result<DynOpened, Diagnostics> {
        let s = self.derived();
        let filled = s.block.fill_defaults(config.clone());
        if !filled.is_fully_known() {
            // Terraform does not open with unknowns; should one come, nothing is known yet.
            return Ok(DynOpened {
                result: object_of::<E::Result>(s, &filled, None)?,
                private: None,
                renew_at: None,
            });
        }
        let spec: E::Spec = decode_spec(s, &filled)?;
        let d = self.resource.validate(&spec);
        if d.has_errors() {
            return Err(d);
        }
        match self.resource.open(ctx, &spec).await? {
            Opened::Ready {
                result,
                private,
                renew_at,
            } => Ok(DynOpened {
                result: object_of(s, &filled, Some(&result))?,
                private: Some(private_bytes(&private)?),
                renew_at,
            }),
            Opened::Unknown => Ok(DynOpened {
                result: object_of::<E::Result>(s, &filled, None)?,
                private: None,
                renew_at: None,
            }),
        }
    }

    async fn renew(
        &self,
        ctx: &Context,
        private: Option<&[u8]>,
    ) -> Result<(Option<Vec<u8>>, Option<SystemTime>), Diagnostics> {
        let r = self.resource.renew(ctx, self.private(private)?).await?;
        Ok((Some(private_bytes(&r.private)?), r.renew_at))
    }

    async fn close(&self, ctx: &Context, private: Option<&[u8]>) -> Result<(), Diagnostics> {
        // Nothing was opened for an unknown result.
        if private.is_none_or(<[u8]>::is_empty) {
            return Ok(());
        }
        self.resource.close(ctx, self.private(private)?).await
    }
}

/// Wraps a typed ephemeral resource for the registry.
pub fn register_ephemeral<E: EphemeralResource>(resource: E) -> Arc<dyn DynEphemeral> {
    Arc::new(TypedEphemeral {
        resource,
        schema: OnceLock::new(),
    })
}
