//! Opening PostgreSQL connections, with TLS as the connection string's
//! `sslmode` asks (rustls with aws-lc-rs). Every connection the store makes
//! (pool, LISTEN sessions, migrations) is opened here.
//!
//! | `sslmode`            | what is checked                                   |
//! |----------------------|---------------------------------------------------|
//! | absent, `disable`, `prefer` | nothing: plain TCP                         |
//! | `require`            | encrypted; the certificate is not checked (as libpq), unless `sslrootcert` is given: then as `verify-ca` |
//! | `verify-ca`          | the chain against `sslrootcert` (system roots if absent or `system`), not the host name |
//! | `verify-full`        | the chain and the host name                        |
//!
//! `require` and stricter never fall back to plain: a server without TLS is
//! refused with a message naming the mode.

use std::str::FromStr;
use std::sync::Arc;

use diesel_async::AsyncPgConnection;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::StoreError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    fn parse(value: &str) -> Result<Self, StoreError> {
        match value {
            "disable" => Ok(Self::Disable),
            "prefer" => Ok(Self::Prefer),
            "require" => Ok(Self::Require),
            "verify-ca" => Ok(Self::VerifyCa),
            "verify-full" => Ok(Self::VerifyFull),
            // `allow` tries plain first; nothing here wants that.
            other => Err(StoreError::Config(format!(
                "sslmode `{other}` is not supported (disable, prefer, require, verify-ca, verify-full)"
            ))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Disable => "disable",
            Self::Prefer => "prefer",
            Self::Require => "require",
            Self::VerifyCa => "verify-ca",
            Self::VerifyFull => "verify-full",
        }
    }
}

/// A parsed connection string: where to connect and how to secure it. The
/// root certificates are read once, when it is parsed.
#[derive(Clone)]
pub struct DatabaseTarget {
    config: tokio_postgres::Config,
    mode: SslMode,
    tls: Option<MakeRustlsConnect>,
}

impl std::fmt::Debug for DatabaseTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // tokio_postgres::Config's Debug redacts the password.
        f.debug_struct("DatabaseTarget").field("config", &self.config).field("sslmode", &self.mode).finish()
    }
}

impl DatabaseTarget {
    /// Parses a `postgres://` URL or a libpq `key=value` string. Fails on an
    /// unknown `sslmode` or an unreadable `sslrootcert`, never on the
    /// database being down.
    pub fn parse(database_url: &str) -> Result<Self, StoreError> {
        let (rest, sslmode, sslrootcert) = split_tls_options(database_url)?;
        let mut config = tokio_postgres::Config::from_str(&rest).map_err(|e| StoreError::Config(with_cause(&e)))?;
        let mode = sslmode.as_deref().map(SslMode::parse).transpose()?.unwrap_or(SslMode::Prefer);
        let tls = match mode {
            SslMode::Disable | SslMode::Prefer => None,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => {
                Some(MakeRustlsConnect::new(client_config(mode, sslrootcert.as_deref())?))
            }
        };
        config.ssl_mode(match mode {
            SslMode::Disable => tokio_postgres::config::SslMode::Disable,
            SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => tokio_postgres::config::SslMode::Require,
        });
        Ok(Self { config, mode, tls })
    }

    /// Connections show as `name` in `pg_stat_activity`.
    pub fn with_application_name(mut self, name: &str) -> Self {
        self.config.application_name(name);
        self
    }

    /// Connections show as this program (`api-service`, `delivery-worker`,
    /// …) in `pg_stat_activity`, unless the connection string names an
    /// `application_name`: so an operator, or a benchmark's profile, can
    /// tell whose backends are busy.
    pub fn named_after_this_program(self) -> Self {
        if self.config.get_application_name().is_some() {
            return self;
        }
        let program = std::env::args_os()
            .next()
            .and_then(|arg| std::path::Path::new(&arg).file_name().map(|n| n.to_string_lossy().into_owned()));
        match program {
            Some(name) => self.with_application_name(&name),
            None => self,
        }
    }

    pub fn ssl_mode(&self) -> SslMode {
        self.mode
    }

    /// Opens a connection; its driver task runs on the current runtime.
    pub async fn connect(&self) -> Result<AsyncPgConnection, diesel::ConnectionError> {
        match &self.tls {
            None => match self.config.connect(tokio_postgres::NoTls).await {
                Ok((client, connection)) => AsyncPgConnection::try_from_client_and_connection(client, connection).await,
                Err(e) => Err(self.refused(&e)),
            },
            Some(tls) => match self.config.connect(tls.clone()).await {
                Ok((client, connection)) => AsyncPgConnection::try_from_client_and_connection(client, connection).await,
                Err(e) => Err(self.refused(&e)),
            },
        }
    }

    fn refused(&self, e: &tokio_postgres::Error) -> diesel::ConnectionError {
        diesel::ConnectionError::BadConnection(format!(
            "cannot connect to PostgreSQL (sslmode={}): {}",
            self.mode.as_str(),
            with_cause(e)
        ))
    }
}

/// tokio-postgres's message names only the kind of error ("error performing
/// TLS handshake"); the reason is its source.
fn with_cause(e: &tokio_postgres::Error) -> String {
    match std::error::Error::source(e) {
        Some(cause) => format!("{e}: {cause}"),
        None => e.to_string(),
    }
}

/// The connection string without `sslmode` and `sslrootcert` (which
/// tokio-postgres does not know in all their forms), and their values.
fn split_tls_options(database_url: &str) -> Result<(String, Option<String>, Option<String>), StoreError> {
    let (mut sslmode, mut sslrootcert) = (None, None);
    let mut take = |key: &str, value: &str| match key {
        "sslmode" => {
            sslmode = Some(value.to_owned());
            true
        }
        "sslrootcert" => {
            sslrootcert = Some(value.to_owned());
            true
        }
        _ => false,
    };
    if database_url.starts_with("postgres://") || database_url.starts_with("postgresql://") {
        let mut url =
            url::Url::parse(database_url).map_err(|e| StoreError::Config(format!("invalid database URL: {e}")))?;
        let kept: Vec<(String, String)> =
            url.query_pairs().filter(|(k, v)| !take(k, v)).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        if kept.is_empty() {
            url.set_query(None);
        } else {
            url.query_pairs_mut().clear().extend_pairs(kept);
        }
        return Ok((url.into(), sslmode, sslrootcert));
    }
    let kept: Vec<String> = keyword_pairs(database_url)?
        .into_iter()
        .filter(|(k, v)| !take(k, v))
        .map(|(k, v)| format!("{k}='{}'", v.replace('\\', "\\\\").replace('\'', "\\'")))
        .collect();
    Ok((kept.join(" "), sslmode, sslrootcert))
}

/// The pairs of a libpq `key = value …` string: values bare or single-quoted,
/// with `\` escaping the next character.
fn keyword_pairs(s: &str) -> Result<Vec<(String, String)>, StoreError> {
    let bad = |why: &str| StoreError::Config(format!("invalid database connection string: {why}"));
    let mut pairs = Vec::new();
    let mut chars = s.chars().peekable();
    let skip_ws = |chars: &mut std::iter::Peekable<std::str::Chars<'_>>| {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
    };
    loop {
        skip_ws(&mut chars);
        if chars.peek().is_none() {
            return Ok(pairs);
        }
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| !c.is_whitespace() && *c != '=') {
            key.push(c);
        }
        skip_ws(&mut chars);
        if key.is_empty() || chars.next() != Some('=') {
            return Err(bad("expected `key=value` pairs"));
        }
        skip_ws(&mut chars);
        let mut value = String::new();
        if chars.next_if_eq(&'\'').is_some() {
            loop {
                match chars.next() {
                    None => return Err(bad("unterminated quoted value")),
                    Some('\'') => break,
                    Some('\\') => value.push(chars.next().ok_or_else(|| bad("trailing backslash"))?),
                    Some(c) => value.push(c),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                if c == '\\' {
                    value.push(chars.next().ok_or_else(|| bad("trailing backslash"))?);
                } else {
                    value.push(c);
                }
            }
        }
        pairs.push((key, value));
    }
}

fn client_config(mode: SslMode, sslrootcert: Option<&str>) -> Result<ClientConfig, StoreError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| StoreError::Config(format!("TLS: {e}")))?;
    let chain_verifier = |provider: Arc<CryptoProvider>| {
        WebPkiServerVerifier::builder_with_provider(Arc::new(root_store(sslrootcert)?), provider)
            .build()
            .map_err(|e| StoreError::Config(format!("TLS roots: {e}")))
    };
    let lenient = match (mode, sslrootcert) {
        (SslMode::Require, None) => LenientVerifier { chain: None, provider },
        // libpq: `require` with a root certificate behaves as `verify-ca`.
        (SslMode::Require, Some(_)) | (SslMode::VerifyCa, _) => {
            LenientVerifier { chain: Some(chain_verifier(provider.clone())?), provider }
        }
        _ => return Ok(builder.with_webpki_verifier(chain_verifier(provider)?).with_no_client_auth()),
    };
    Ok(builder.dangerous().with_custom_certificate_verifier(Arc::new(lenient)).with_no_client_auth())
}

/// The certificates of `sslrootcert` (PEM), or the system's roots when it is
/// absent or `system`.
fn root_store(sslrootcert: Option<&str>) -> Result<RootCertStore, StoreError> {
    let mut roots = RootCertStore::empty();
    match sslrootcert {
        Some(path) if path != "system" => {
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .map_err(|e| StoreError::Config(format!("sslrootcert {path}: {e}")))?;
            let (added, _ignored) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(StoreError::Config(format!("sslrootcert {path}: no usable certificate")));
            }
        }
        _ => {
            let found = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(found.certs);
            if roots.is_empty() {
                return Err(StoreError::Config(
                    "no system root certificates for sslmode verify-*; set sslrootcert".into(),
                ));
            }
        }
    }
    Ok(roots)
}

/// The certificate checks of `sslmode=require` and `verify-ca`, laxer than
/// webpki's (`verify-full`). Without a `chain` (`require`): encrypted
/// against passive listeners, but any certificate is accepted. With one
/// (`verify-ca`): the chain must lead to a trusted root; the name in the
/// certificate is not compared with the host (webpki checks the name last,
/// so its name error means everything else passed). The handshake
/// signature is checked either way, with the provider's algorithms (those
/// the chain verifier was built with).
#[derive(Debug)]
struct LenientVerifier {
    chain: Option<Arc<WebPkiServerVerifier>>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for LenientVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(chain) = &self.chain else { return Ok(ServerCertVerified::assertion()) };
        match chain.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_options_leave_either_form_of_connection_string() {
        let (rest, mode, root) = split_tls_options(
            "postgres://u:p@db:5432/argus?sslmode=verify-full&sslrootcert=%2Fca.pem&connect_timeout=3",
        )
        .unwrap();
        assert_eq!(rest, "postgres://u:p@db:5432/argus?connect_timeout=3");
        assert_eq!((mode.as_deref(), root.as_deref()), (Some("verify-full"), Some("/ca.pem")));

        let (rest, mode, root) = split_tls_options("postgresql://u@db/argus?sslmode=require").unwrap();
        assert_eq!((rest.as_str(), mode.as_deref(), root), ("postgresql://u@db/argus", Some("require"), None));

        let (rest, mode, root) = split_tls_options(
            "host=db  dbname = argus sslmode=verify-ca sslrootcert='/etc/my ca.pem' password='a\\'b'",
        )
        .unwrap();
        assert_eq!(rest, "host='db' dbname='argus' password='a\\'b'");
        assert_eq!((mode.as_deref(), root.as_deref()), (Some("verify-ca"), Some("/etc/my ca.pem")));
        assert!(tokio_postgres::Config::from_str(&rest).is_ok());
    }

    #[test]
    fn bad_connection_strings_and_modes_are_refused() {
        assert!(split_tls_options("host=db dbname").is_err());
        assert!(split_tls_options("host='db").is_err());
        assert!(split_tls_options("=x").is_err());
        let err = DatabaseTarget::parse("postgres://db/argus?sslmode=allow").unwrap_err().to_string();
        assert!(err.contains("sslmode `allow`"), "{err}");
        let err = DatabaseTarget::parse("postgres://db/argus?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem")
            .unwrap_err()
            .to_string();
        assert!(err.contains("sslrootcert /nonexistent/ca.pem"), "{err}");
    }

    #[test]
    fn plain_modes_need_no_tls() {
        for url in ["postgres://db/argus", "postgres://db/argus?sslmode=disable", "host=db sslmode=prefer"] {
            let target = DatabaseTarget::parse(url).unwrap();
            assert!(target.tls.is_none(), "{url}");
        }
        assert_eq!(DatabaseTarget::parse("postgres://db/a?sslmode=require").unwrap().ssl_mode(), SslMode::Require);
    }
}
