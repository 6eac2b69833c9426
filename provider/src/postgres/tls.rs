//! The rustls client configuration for each `sslmode`: what of the server's certificate is
//! checked (nothing, the chain, or the chain and the host name). The handshake signatures
//! are always checked with the crypto provider, whatever the mode.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{WebPkiServerVerifier, verify_server_cert_signed_by_trust_anchor};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};

use super::conninfo::{RootCert, SslMode};
use super::{Error, Result};

/// The client configuration for `mode` (not `Disable`) with the CAs of `root`: without
/// `sslrootcert`, `prefer` and `require` encrypt without checking the certificate (libpq's
/// behaviour); with it they check the chain like `verify-ca`.
pub fn client_config(mode: SslMode, root: Option<&RootCert>) -> Result<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let roots = root.map(load_roots).transpose()?.map(Arc::new);
    let verifier: Arc<dyn ServerCertVerifier> = match (mode, roots) {
        (SslMode::VerifyFull, Some(roots)) => {
            WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
                .build()
                .map_err(|e| Error::Tls(e.to_string()))?
        }
        (SslMode::VerifyCa | SslMode::VerifyFull, None) => {
            return Err(Error::Url(
                "sslmode=verify-ca and verify-full need sslrootcert".into(),
            ));
        }
        (_, roots) => Arc::new(ChainOnly {
            roots,
            provider: provider.clone(),
        }),
    };
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Tls(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth())
}

fn load_roots(root: &RootCert) -> Result<RootCertStore> {
    let mut store = RootCertStore::empty();
    match root {
        RootCert::System => store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        RootCert::File(path) => {
            let shown = path.display();
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                .map_err(|e| Error::Url(format!("sslrootcert {shown} cannot be read: {e}")))?;
            if certs.is_empty() {
                return Err(Error::Url(format!(
                    "sslrootcert {shown} holds no PEM certificate (-----BEGIN CERTIFICATE-----)"
                )));
            }
            for cert in certs {
                store.add(cert).map_err(|e| {
                    Error::Url(format!(
                        "sslrootcert {shown} holds an invalid certificate: {e}"
                    ))
                })?;
            }
        }
    }
    Ok(store)
}

/// What `verify-ca` checks (the chain leads to one of `roots`, whatever the host name) or,
/// without `roots`, what `prefer`/`require` check: nothing of the certificate.
#[derive(Debug)]
struct ChainOnly {
    roots: Option<Arc<RootCertStore>>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Some(roots) = &self.roots {
            verify_server_cert_signed_by_trust_anchor(
                &ParsedCertificate::try_from(end_entity)?,
                roots,
                intermediates,
                now,
                self.provider.signature_verification_algorithms.all,
            )?;
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
