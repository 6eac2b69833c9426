//! The provider library's one error type (user-caused problems are diagnostics instead).

/// Everything that can go wrong inside the provider outside of user input.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A socket, file or process operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The self-signed TLS certificate could not be generated.
    #[error("generating the TLS certificate: {0}")]
    Certificate(#[from] rcgen::Error),
    /// The gRPC server failed.
    #[error("gRPC server: {0}")]
    Transport(#[from] tonic::transport::Error),
    /// A value did not match the schema's type.
    #[error("value encoding: {0}")]
    Value(String),
    /// The binary was started by something other than Terraform.
    #[error(
        "This binary is a plugin for Terraform (provider insightpulseai/ipai); it is not meant \
         to be run directly. Use it through `terraform`, or run it with --debug to attach Terraform to it."
    )]
    NotLaunchedByTerraform,
}

impl Error {
    /// An I/O error with what was being done.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }
}

/// Result with the crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
