//! Typed cty values: what Terraform sends in a `DynamicValue` and what the provider returns.
//!
//! A [`Type`] comes from the schema (Terraform's JSON type syntax, e.g. `["list","string"]`);
//! a [`Value`] never carries its type, so every codec takes the type alongside:
//! - [`msgpack`]: the `DynamicValue.msgpack` wire encoding (unknown = extension 0),
//! - [`json`]: the JSON encoding Terraform uses for stored state (`UpgradeResourceState`).
//!
//! Values of the `dynamic` type are decoded into their plain [`Value`]; when encoded again,
//! their concrete type is inferred from the value ([`Value::infer_type`]).

mod error;
pub mod json;
pub mod msgpack;
mod number;
mod types;
mod values;

pub use error::{Error, Result};
pub use number::Number;
pub use types::Type;
pub use values::Value;

#[cfg(test)]
mod tests;
