//! The wire protocols, generated from `provider/proto/` at build time: tfplugin6 (what
//! Terraform speaks to providers), go-plugin's controller and stdio services, and the gRPC
//! health check.

#[rustfmt::skip]
#[allow(missing_docs, clippy::all, clippy::pedantic)]
mod generated {
    pub mod tfplugin6 {
        tonic::include_proto!("tfplugin6");
    }
    pub mod plugin {
        tonic::include_proto!("plugin");
    }
    pub mod health {
        tonic::include_proto!("grpc.health.v1");
    }
}

pub use generated::health;
pub use generated::plugin;
pub use generated::tfplugin6;
