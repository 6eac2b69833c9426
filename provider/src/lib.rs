//! terraform-provider-ipai: the tfplugin6 gRPC server, resource lifecycle and appliers.
//!
//! Layers, bottom up: [`proto`] (generated wire types), [`value`] (cty values),
//! [`schema`] (Terraform schemas derived from the codegen specs' JSON Schema),
//! [`framework`] (the [`framework::Resource`] trait and the registry), [`resources`]
//! (one module per resource type), appliers ([`files`]), and [`server`] (the gRPC
//! service, the go-plugin handshake and serving).

pub mod config;
pub mod diagnostics;
pub mod digitalocean;
mod error;
pub mod files;
pub mod framework;
pub mod git;
pub mod plugin;
pub mod postgres;
pub mod proto;
pub mod resources;
pub mod schema;
pub mod server;
pub mod value;

pub use error::{Error, Result};
