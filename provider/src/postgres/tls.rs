//! The rustls client configuration for each `sslmode`: what of the server's certificate is
//! checked (nothing, the chain, or the chain and the host name), and the client certificate
//! sent when the server asks for one. The handshake signatures are always checked with the
//! crypto provider, whatever the mode.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{WebPkiServerVerifier, verify_server_cert_signed_by_trust_anchor};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};

use super::conninfo::{ClientCert, RootCert, SslMode};
use super::{Error, Result};

/// The client configuration for `mode` (not `Disable`) with the CAs of `root`: without
/// `sslrootcert`, `prefer` and `require` encrypt without checking the certificate (libpq's
/// behaviour); with it they check the chain like `verify-ca`. `client` is the certificate
/// and key offered to a server that asks for one.
pub fn client_config(
    mode: SslMode,
    root: Option<&RootCert>,
    client: Option<&ClientCert>,
) -> Result<rustls::ClientConfig> {
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
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Tls(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    match client {
        None => Ok(builder.with_no_client_auth()),
        Some(c) => {
            let (certs, key) = load_client_cert(c)?;
            builder.with_client_auth_cert(certs, key).map_err(|e| {
                Error::Url(format!(
                    "sslkey {} does not fit sslcert {}: {e}",
                    c.key.display(),
                    c.cert.display()
                ))
            })
        }
    }
}

/// The certificate chain and private key of `c`, the key file's permissions checked first
/// as libpq does.
fn load_client_cert(
    c: &ClientCert,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)> {
    let shown = c.cert.display();
    let certs = CertificateDer::pem_file_iter(&c.cert)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| Error::Url(format!("sslcert {shown} cannot be read: {e}")))?;
    if certs.is_empty() {
        return Err(Error::Url(format!(
            "sslcert {shown} holds no PEM certificate (-----BEGIN CERTIFICATE-----)"
        )));
    }
    let key_shown = c.key.display();
    let meta = std::fs::metadata(&c.key)
        .map_err(|e| Error::Url(format!("sslkey {key_shown} cannot be read: {e}")))?;
    key_permissions(&meta).map_err(|why| Error::Url(format!("sslkey {key_shown} {why}")))?;
    let key = PrivateKeyDer::from_pem_file(&c.key).map_err(|e| {
        Error::Url(format!(
            "sslkey {key_shown} holds no usable private key ({e}): an unencrypted PEM key \
             (PKCS#8, PKCS#1 or SEC1) is needed; encrypted keys (sslpassword) are not \
             supported"
        ))
    })?;
    Ok((certs, key))
}

/// libpq's rule for a private key file: no access for group or others when the current
/// user owns it, at most read access for the group when root owns it (a key shared through
/// a group such as `ssl-cert`).
fn key_permissions(meta: &std::fs::Metadata) -> std::result::Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    let mode = meta.mode() & 0o777;
    let owner = meta.uid();
    let me = rustix::process::geteuid().as_raw();
    if (owner == me && mode & 0o077 != 0) || (owner == 0 && mode & 0o037 != 0) {
        return Err(format!(
            "has group or world access (mode {mode:04o}); it must have permissions u=rw \
             (0600) or less if owned by the current user, or u=rw,g=r (0640) or less if \
             owned by root (chmod 0600 it)"
        ));
    }
    Ok(())
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
