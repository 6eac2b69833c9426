//! terraform-provider-ipai: the tfplugin6 gRPC server, resource lifecycle and appliers.

pub mod digitalocean;
pub mod git;
pub mod postgres;
pub mod value;
