//! Private signing keys sealed at rest: AES-256-GCM, like webhook secrets,
//! under keys from the environment (`ARGUS_KEY_SEALING_KEYS`). Each sealed
//! key is stored with the id of the sealing key that sealed it, so sealing
//! keys can be rotated: the first key seals, every listed key opens. A
//! sealed key is bound to its `kid` (as authenticated data), so a sealed
//! blob copied onto another row does not open.

use crate::CryptoError;
use crate::webhook::SecretBox;

/// The sealing keys used when none are configured: fine on a laptop and in
/// tests, warned about at start, never for production.
pub const DEV_SEALING_KEYS: &str = "dev:argus-dev-key-sealing-secret-do-not-use-in-production";

const MIN_SECRET_CHARS: usize = 32;
const MAX_ID_CHARS: usize = 32;
const PURPOSE: &[u8] = b"argus signing-key seal v1: AES-256-GCM";

#[derive(Clone)]
pub struct KeySealer {
    /// The first seals; all open. Never empty.
    keys: Vec<(String, SecretBox)>,
}

impl std::fmt::Debug for KeySealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|(id, _)| id.as_str()).collect();
        f.debug_struct("KeySealer").field("key_ids", &ids).finish_non_exhaustive()
    }
}

impl KeySealer {
    /// `id:secret[,id:secret…]`: ids of 1 to 32 of `[A-Za-z0-9._-]`, secrets
    /// of at least 32 characters without commas (e.g. `openssl rand -base64 48`).
    pub fn parse(setting: &str) -> Result<Self, CryptoError> {
        let bad = |why: String| CryptoError::BadSecret(format!("key sealing keys: {why}"));
        let mut keys: Vec<(String, SecretBox)> = Vec::new();
        for entry in setting.split(',').map(str::trim) {
            let (id, secret) = entry.split_once(':').ok_or_else(|| bad("each entry is `id:secret`".into()))?;
            let id_ok = (1..=MAX_ID_CHARS).contains(&id.len())
                && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
            if !id_ok {
                return Err(bad(format!("id `{id}` must be 1 to {MAX_ID_CHARS} of A-Z a-z 0-9 . _ -")));
            }
            if secret.chars().count() < MIN_SECRET_CHARS {
                return Err(bad(format!("the secret of `{id}` is shorter than {MIN_SECRET_CHARS} characters")));
            }
            if keys.iter().any(|(known, _)| known == id) {
                return Err(bad(format!("id `{id}` is listed twice")));
            }
            keys.push((id.to_owned(), SecretBox::derived(secret.as_bytes(), PURPOSE)));
        }
        Ok(Self { keys })
    }

    /// From the environment variable's value: unset or empty means the
    /// development keys.
    pub fn from_setting(setting: Option<&str>) -> Result<Self, CryptoError> {
        match setting.map(str::trim) {
            Some(value) if !value.is_empty() => Self::parse(value),
            _ => Ok(Self::development()),
        }
    }

    pub fn development() -> Self {
        // A constant that parses; checked by a test.
        #[allow(clippy::expect_used)]
        Self::parse(DEV_SEALING_KEYS).expect("development sealing keys parse")
    }

    pub fn is_development(&self) -> bool {
        self.sealing_key_id() == "dev"
    }

    /// The id stored beside what [`Self::seal`] seals.
    pub fn sealing_key_id(&self) -> &str {
        &self.keys[0].0
    }

    /// Seals the private key of `kid` under the first sealing key.
    pub fn seal(&self, kid: &str, private_key: &[u8]) -> Vec<u8> {
        self.keys[0].1.seal_bound(private_key, kid.as_bytes())
    }

    /// Opens the private key of `kid` sealed under `sealing_key_id`.
    pub fn open(&self, sealing_key_id: &str, kid: &str, sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let (_, key) = self.keys.iter().find(|(id, _)| id == sealing_key_id).ok_or_else(|| {
            CryptoError::BadKey(format!(
                "signing key {kid} is sealed with sealing key `{sealing_key_id}`, which ARGUS_KEY_SEALING_KEYS does not list"
            ))
        })?;
        key.open_bound(sealed, kid.as_bytes()).map_err(|_| {
            CryptoError::BadKey(format!("signing key {kid} does not open with sealing key `{sealing_key_id}`"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "a:0123456789abcdef0123456789abcdef";
    const B: &str = "b:fedcba9876543210fedcba9876543210";

    #[test]
    fn the_first_key_seals_and_every_listed_key_opens() {
        let old = KeySealer::parse(A).unwrap();
        let sealed = old.seal("key_1", b"private");
        assert!(!sealed.windows(7).any(|w| w == b"private"));
        assert_eq!(old.open("a", "key_1", &sealed).unwrap(), b"private");

        let rotated = KeySealer::parse(&format!("{B},{A}")).unwrap();
        assert_eq!(rotated.sealing_key_id(), "b");
        assert_eq!(rotated.open("a", "key_1", &sealed).unwrap(), b"private");
        let resealed = rotated.seal("key_1", b"private");
        assert!(old.open("b", "key_1", &resealed).unwrap_err().to_string().contains("does not list"));
    }

    #[test]
    fn a_sealed_key_opens_only_for_its_own_kid_and_key() {
        let sealer = KeySealer::parse(A).unwrap();
        let sealed = sealer.seal("key_1", b"private");
        assert!(sealer.open("a", "key_2", &sealed).is_err());
        let impostor = KeySealer::parse("a:another-secret-that-is-long-enough-1234").unwrap();
        assert!(impostor.open("a", "key_1", &sealed).is_err());
        assert!(sealer.open("a", "key_1", &sealed[..8]).is_err());
    }

    #[test]
    fn settings_are_checked() {
        for bad in [
            "",
            "nocolon",
            "a:short",
            ":0123456789abcdef0123456789abcdef",
            &format!("{A},{A}"),
            "a b:0123456789abcdef0123456789abcdef",
        ] {
            assert!(KeySealer::parse(bad).is_err(), "{bad:?}");
        }
        assert!(KeySealer::development().is_development());
        assert!(KeySealer::from_setting(None).unwrap().is_development());
        assert!(KeySealer::from_setting(Some(" ")).unwrap().is_development());
        assert_eq!(KeySealer::from_setting(Some(A)).unwrap().sealing_key_id(), "a");
        assert!(!format!("{:?}", KeySealer::parse(A).unwrap()).contains("0123"));
    }
}
