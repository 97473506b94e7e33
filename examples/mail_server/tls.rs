//! TLS: the rustls server configuration (ring provider), from PEM files or
//! a self-signed certificate made at start.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A certificate chain and its key, ready for rustls.
pub struct Identity {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    /// The certificate in PEM, when it was generated here (for clients to
    /// trust it).
    pub generated_pem: Option<String>,
}

impl Identity {
    /// Reads a certificate chain and a private key (PKCS#8, PKCS#1 or SEC1)
    /// from PEM files.
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<Identity, String> {
        let chain = CertificateDer::pem_file_iter(cert)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|e| format!("cannot read certificates from {}: {e}", cert.display()))?;
        if chain.is_empty() {
            return Err(format!("no certificate in {}", cert.display()));
        }
        let key = PrivateKeyDer::from_pem_file(key)
            .map_err(|e| format!("cannot read a private key from {}: {e}", key.display()))?;
        Ok(Identity {
            chain,
            key,
            generated_pem: None,
        })
    }

    /// A new self-signed certificate for `names` (host names or IP
    /// addresses).
    pub fn self_signed(names: &[String]) -> Result<Identity, String> {
        let certified = rcgen::generate_simple_self_signed(names.to_vec())
            .map_err(|e| format!("cannot generate a certificate: {e}"))?;
        let key = PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der());
        Ok(Identity {
            chain: vec![certified.cert.der().clone()],
            key: key.into(),
            generated_pem: Some(certified.cert.pem()),
        })
    }

    /// The rustls server configuration.
    pub fn server_config(self) -> Result<Arc<rustls::ServerConfig>, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS configuration: {e}"))?
            .with_no_client_auth()
            .with_single_cert(self.chain, self.key)
            .map_err(|e| format!("TLS certificate and key do not fit: {e}"))?;
        Ok(Arc::new(config))
    }
}
