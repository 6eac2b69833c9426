//! The go-plugin side of being a Terraform provider: the magic cookie, the handshake line,
//! AutoMTLS with a fresh self-signed certificate, the controller's Shutdown, reattach
//! (`--debug`) mode, and serving the tfplugin6 service over TCP with `TCP_NODELAY`.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use tokio::sync::watch;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Identity, Server, ServerTlsConfig};
use tonic::{Request, Response, Status};

use crate::proto::{health, plugin, tfplugin6};
use crate::{Error, Result};

/// The environment variable Terraform sets when it launches a provider.
pub const MAGIC_COOKIE_KEY: &str = "TF_PLUGIN_MAGIC_COOKIE";
/// The value Terraform puts in [`MAGIC_COOKIE_KEY`].
pub const MAGIC_COOKIE_VALUE: &str =
    "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";
/// Set by Terraform when it wants TLS: its client certificate (AutoMTLS).
pub const CLIENT_CERT_ENV: &str = "PLUGIN_CLIENT_CERT";
/// The provider's full source address, the key of `TF_REATTACH_PROVIDERS`.
pub const PROVIDER_ADDRESS: &str = "registry.terraform.io/insightpulseai/ipai";
/// go-plugin's core protocol version.
pub const CORE_PROTOCOL_VERSION: u32 = 1;
/// The Terraform plugin protocol major version served.
pub const APP_PROTOCOL_VERSION: u32 = 6;

/// How the process was started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Launched by Terraform: TLS when it asked for it, exit on Shutdown.
    Managed {
        /// Serve TLS with a fresh self-signed certificate.
        tls: bool,
    },
    /// `--debug`: plain text, print `TF_REATTACH_PROVIDERS`, serve until interrupted.
    Debug,
}

impl Mode {
    /// The mode for a process started with `debug` and these environment values; errors
    /// when Terraform did not launch it (wrong or missing magic cookie) outside debug mode.
    pub fn detect(debug: bool, cookie: Option<&str>, client_cert: Option<&str>) -> Result<Self> {
        if debug {
            return Ok(Self::Debug);
        }
        if cookie != Some(MAGIC_COOKIE_VALUE) {
            return Err(Error::NotLaunchedByTerraform);
        }
        Ok(Self::Managed {
            tls: client_cert.is_some_and(|c| !c.trim().is_empty()),
        })
    }
}

/// A self-signed server certificate and its key.
#[derive(Debug, Clone)]
pub struct ServerCert {
    /// DER of the certificate: what goes, base64-encoded, into the handshake line.
    pub der: Vec<u8>,
    /// The certificate in PEM.
    pub cert_pem: String,
    /// The private key in PEM.
    pub key_pem: String,
}

/// A fresh self-signed certificate for `localhost`, the server name go-plugin's client
/// verifies against the certificate it got in the handshake (it trusts that one only).
pub fn self_signed_cert() -> Result<ServerCert> {
    use rcgen::{
        CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
        KeyUsagePurpose,
    };
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(vec!["localhost".to_owned()])?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "HashiCorp");
    dn.push(DnType::CommonName, "localhost");
    params.distinguished_name = dn;
    // The client trusts exactly this certificate (it is its own root): an end-entity
    // certificate, which Go's verifier and rustls/webpki both accept that way.
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    let cert = params.self_signed(&key)?;
    Ok(ServerCert {
        der: cert.der().to_vec(),
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

/// The line go-plugin reads from stdout: `1|6|tcp|ADDR|grpc|CERT`, CERT being the DER
/// certificate in base64 without padding (empty without TLS).
pub fn handshake_line(addr: SocketAddr, cert_der: Option<&[u8]>) -> String {
    let cert = cert_der
        .map(|d| base64::engine::general_purpose::STANDARD_NO_PAD.encode(d))
        .unwrap_or_default();
    format!("{CORE_PROTOCOL_VERSION}|{APP_PROTOCOL_VERSION}|tcp|{addr}|grpc|{cert}")
}

/// The `TF_REATTACH_PROVIDERS` value that attaches Terraform to a provider in debug mode.
pub fn reattach_value(addr: SocketAddr, pid: u32) -> String {
    serde_json::json!({
        PROVIDER_ADDRESS: {
            "Protocol": "grpc",
            "ProtocolVersion": APP_PROTOCOL_VERSION,
            "Pid": pid,
            "Test": true,
            "Addr": {"Network": "tcp", "String": addr.to_string()},
        }
    })
    .to_string()
}

/// go-plugin's controller: Terraform calls Shutdown instead of killing the process.
#[derive(Debug, Clone)]
struct Controller {
    shutdown: Arc<watch::Sender<bool>>,
    honour: bool,
}

#[tonic::async_trait]
impl plugin::grpc_controller_server::GrpcController for Controller {
    async fn shutdown(
        &self,
        _req: Request<plugin::Empty>,
    ) -> Result<Response<plugin::Empty>, Status> {
        if self.honour {
            self.shutdown.send_replace(true);
        }
        Ok(Response::new(plugin::Empty {}))
    }
}

/// go-plugin's stdio stream: this provider writes nothing worth forwarding, so the
/// stream ends at once (the client takes end-of-stream as "nothing more").
#[derive(Debug, Clone, Copy)]
struct Stdio;

#[tonic::async_trait]
impl plugin::grpc_stdio_server::GrpcStdio for Stdio {
    async fn stream_stdio(
        &self,
        _req: Request<()>,
    ) -> Result<Response<tonic::codegen::BoxStream<plugin::StdioData>>, Status> {
        Ok(Response::new(Box::pin(tokio_stream::empty())))
    }
}

/// The health check go-plugin's client pings.
#[derive(Debug, Clone, Copy)]
struct Health;

#[tonic::async_trait]
impl health::health_server::Health for Health {
    async fn check(
        &self,
        _req: Request<health::HealthCheckRequest>,
    ) -> Result<Response<health::HealthCheckResponse>, Status> {
        Ok(Response::new(health::HealthCheckResponse {
            status: health::health_check_response::ServingStatus::Serving as i32,
        }))
    }
}

/// Largest gRPC message accepted or sent, as Terraform's own client allows.
const MAX_MESSAGE_SIZE: usize = 256 << 20;

/// Binds a loopback port, prints the handshake (or the reattach value) and serves
/// `provider` until Terraform calls Shutdown (or, in debug mode, until Ctrl-C).
pub async fn serve<P>(provider: P, mode: Mode) -> Result<()>
where
    P: tfplugin6::provider_server::Provider,
{
    let incoming = TcpIncoming::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .map_err(|e| Error::io("binding a loopback port", e))?;
    let addr = incoming
        .local_addr()
        .map_err(|e| Error::io("reading the bound address", e))?;
    // Without TCP_NODELAY every small gRPC response waits for the peer's delayed ACK.
    let incoming = incoming.with_nodelay(Some(true));

    let mut builder = Server::builder();
    let cert = match mode {
        Mode::Managed { tls: true } => {
            // Several crypto backends are linked in (reqwest, postgres); pick ring, once.
            let _ = rustls::crypto::ring::default_provider().install_default();
            let cert = self_signed_cert()?;
            let identity = Identity::from_pem(&cert.cert_pem, &cert.key_pem);
            builder = builder.tls_config(ServerTlsConfig::new().identity(identity))?;
            Some(cert)
        }
        _ => None,
    };

    let shutdown = Arc::new(watch::Sender::new(false));
    let controller = Controller {
        shutdown: shutdown.clone(),
        honour: mode != Mode::Debug,
    };
    let router = builder
        .add_service(
            tfplugin6::provider_server::ProviderServer::new(provider)
                .max_decoding_message_size(MAX_MESSAGE_SIZE)
                .max_encoding_message_size(MAX_MESSAGE_SIZE),
        )
        .add_service(plugin::grpc_controller_server::GrpcControllerServer::new(
            controller,
        ))
        .add_service(plugin::grpc_stdio_server::GrpcStdioServer::new(Stdio))
        .add_service(health::health_server::HealthServer::new(Health));

    announce(mode, addr, cert.as_ref())?;

    let signal = {
        let mut requested = shutdown.subscribe();
        async move {
            match mode {
                Mode::Debug => {
                    let _ = tokio::signal::ctrl_c().await;
                }
                Mode::Managed { .. } => {
                    let _ = requested.wait_for(|r| *r).await;
                }
            }
        }
    };
    let served = router.serve_with_incoming_shutdown(incoming, signal);
    tokio::pin!(served);
    tokio::select! {
        r = &mut served => r?,
        // Terraform waits for the process to exit before it hangs up: give the Shutdown
        // response a moment to leave, then go, instead of waiting on the connection.
        () = async {
            let _ = shutdown.subscribe().wait_for(|r| *r).await;
            tokio::time::sleep(Duration::from_millis(20)).await;
        } => {}
    }
    Ok(())
}

fn announce(mode: Mode, addr: SocketAddr, cert: Option<&ServerCert>) -> Result<()> {
    let mut out = std::io::stdout().lock();
    let written = match mode {
        Mode::Debug => writeln!(
            out,
            "Provider started. To attach Terraform CLI, set the TF_REATTACH_PROVIDERS \
             environment variable with the following:\n\n\tTF_REATTACH_PROVIDERS='{}'\n",
            reattach_value(addr, std::process::id())
        ),
        Mode::Managed { .. } => writeln!(
            out,
            "{}",
            handshake_line(addr, cert.map(|c| c.der.as_slice()))
        ),
    };
    written
        .and_then(|()| out.flush())
        .map_err(|e| Error::io("writing the handshake to stdout", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handshake_without_tls_has_an_empty_certificate() {
        let addr: SocketAddr = "127.0.0.1:4321".parse().unwrap();
        assert_eq!(handshake_line(addr, None), "1|6|tcp|127.0.0.1:4321|grpc|");
    }

    #[test]
    fn handshake_carries_the_der_certificate_unpadded() {
        let cert = self_signed_cert().unwrap();
        let addr: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let line = handshake_line(addr, Some(&cert.der));
        let encoded = line.rsplit('|').next().unwrap();
        assert!(
            !encoded.ends_with('='),
            "padding must be stripped: {encoded}"
        );
        let decoded = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(encoded)
            .unwrap();
        assert_eq!(decoded, cert.der);
    }

    #[test]
    fn certificate_names_localhost() {
        let cert = self_signed_cert().unwrap();
        // DER of the SAN dNSName "localhost" ([2] IMPLICIT IA5String).
        let san = [&[0x82u8, 9][..], b"localhost"].concat();
        assert!(cert.der.windows(san.len()).any(|w| w == san.as_slice()));
        assert!(cert.key_pem.contains("PRIVATE KEY"));
    }

    #[test]
    fn every_certificate_is_fresh() {
        assert_ne!(
            self_signed_cert().unwrap().der,
            self_signed_cert().unwrap().der
        );
    }

    #[test]
    fn the_magic_cookie_decides_who_may_launch_it() {
        assert!(matches!(
            Mode::detect(false, None, None),
            Err(Error::NotLaunchedByTerraform)
        ));
        assert!(Mode::detect(false, Some("nope"), None).is_err());
        assert_eq!(
            Mode::detect(false, Some(MAGIC_COOKIE_VALUE), None).unwrap(),
            Mode::Managed { tls: false }
        );
        assert_eq!(
            Mode::detect(
                false,
                Some(MAGIC_COOKIE_VALUE),
                Some("-----BEGIN CERTIFICATE-----")
            )
            .unwrap(),
            Mode::Managed { tls: true }
        );
        assert_eq!(Mode::detect(true, None, None).unwrap(), Mode::Debug);
    }

    #[test]
    fn reattach_value_names_the_provider_and_address() {
        let v: serde_json::Value =
            serde_json::from_str(&reattach_value("127.0.0.1:5000".parse().unwrap(), 42)).unwrap();
        let p = &v[PROVIDER_ADDRESS];
        assert_eq!(p["ProtocolVersion"], 6);
        assert_eq!(p["Pid"], 42);
        assert_eq!(p["Addr"]["String"], "127.0.0.1:5000");
    }
}
