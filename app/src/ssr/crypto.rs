//! Keys derived from the server's secret key, and AES-256-GCM encryption for
//! secrets at rest (such as SSO client secrets).
//!
//! One root secret feeds HKDF-SHA256 with a distinct label per use, so the
//! cookie-signing key and the encryption key are independent.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hkdf::Hkdf;
use sha2::Sha256;
use std::fmt;
use std::sync::Arc;

/// Shortest root secret accepted, in bytes.
pub const MIN_SECRET_LEN: usize = 32;
const CIPHERTEXT_PREFIX: &str = "v1.";
const NONCE_LEN: usize = 12;

/// Lowercase hex SHA-256, for storing bearer secrets (API tokens,
/// invitation links) so that the database never holds them in clear.
pub fn sha256_hex(secret: &str) -> String {
    use sha2::Digest;
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CryptoError {
    #[error("the secret key must be at least {MIN_SECRET_LEN} bytes long")]
    KeyTooShort,
    #[error("the stored secret is not in a format this server understands")]
    Malformed,
    #[error("the stored secret could not be decrypted (wrong key or tampered data)")]
    Decrypt,
}

/// Keys for one server instance, derived from the root secret.
#[derive(Clone)]
pub struct Keys {
    cookie: Arc<[u8; 64]>,
    secrets: SecretBox,
}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Keys(..)")
    }
}

impl Keys {
    pub fn derive(root: &[u8]) -> Result<Self, CryptoError> {
        if root.len() < MIN_SECRET_LEN {
            return Err(CryptoError::KeyTooShort);
        }
        let hk = Hkdf::<Sha256>::new(Some(b"latchkey"), root);
        let mut cookie = [0u8; 64];
        let mut enc = [0u8; 32];
        // Both lengths are far below HKDF-SHA256's 8160-byte limit.
        hk.expand(b"cookie-signing v1", &mut cookie)
            .map_err(|_| CryptoError::KeyTooShort)?;
        hk.expand(b"secrets-at-rest v1", &mut enc)
            .map_err(|_| CryptoError::KeyTooShort)?;
        Ok(Self {
            cookie: Arc::new(cookie),
            secrets: SecretBox::new(&enc),
        })
    }

    /// 64 bytes for signing session cookies.
    pub fn cookie_key(&self) -> &[u8; 64] {
        &self.cookie
    }

    pub fn secrets(&self) -> &SecretBox {
        &self.secrets
    }
}

/// Encrypts and decrypts small secrets. Each ciphertext is bound to an
/// `context` string (e.g. `sso_client_secret:<org id>`) so that a value copied
/// to another row does not decrypt.
#[derive(Clone)]
pub struct SecretBox {
    cipher: Arc<Aes256Gcm>,
}

impl SecretBox {
    fn new(key: &[u8; 32]) -> Self {
        Self {
            cipher: Arc::new(Aes256Gcm::new(key.into())),
        }
    }

    /// Returns `v1.<base64url(nonce || ciphertext)>`.
    pub fn encrypt(&self, plaintext: &str, context: &str) -> String {
        let nonce_bytes = super::random::bytes::<NONCE_LEN>();
        let nonce = Nonce::from_slice(&nonce_bytes);
        let sealed = self
            .cipher
            .encrypt(
                nonce,
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: context.as_bytes(),
                },
            )
            // AES-GCM only fails for inputs of many gigabytes.
            .unwrap_or_default();
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce_bytes);
        out.extend_from_slice(&sealed);
        format!("{CIPHERTEXT_PREFIX}{}", URL_SAFE_NO_PAD.encode(out))
    }

    pub fn decrypt(&self, stored: &str, context: &str) -> Result<String, CryptoError> {
        let body = stored
            .strip_prefix(CIPHERTEXT_PREFIX)
            .ok_or(CryptoError::Malformed)?;
        let raw = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| CryptoError::Malformed)?;
        if raw.len() < NONCE_LEN + 16 {
            return Err(CryptoError::Malformed);
        }
        let (nonce, sealed) = raw.split_at(NONCE_LEN);
        let plain = self
            .cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| CryptoError::Decrypt)?;
        String::from_utf8(plain).map_err(|_| CryptoError::Malformed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(seed: u8) -> Keys {
        Keys::derive(&[seed; 40]).expect("a 40-byte key is long enough")
    }

    #[test]
    fn sha256_hex_matches_the_standard_vector() {
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn round_trip() {
        let k = keys(1);
        let sealed = k.secrets().encrypt("s3cr3t-value", "ctx:a");
        assert!(sealed.starts_with("v1."));
        assert!(!sealed.contains("s3cr3t"));
        assert_eq!(
            k.secrets().decrypt(&sealed, "ctx:a").as_deref(),
            Ok("s3cr3t-value")
        );
    }

    #[test]
    fn nonces_differ_between_encryptions() {
        let k = keys(1);
        assert_ne!(
            k.secrets().encrypt("same", "ctx"),
            k.secrets().encrypt("same", "ctx")
        );
    }

    #[test]
    fn wrong_context_wrong_key_and_tampering_fail() {
        let k = keys(1);
        let sealed = k.secrets().encrypt("value", "ctx:a");
        assert_eq!(
            k.secrets().decrypt(&sealed, "ctx:b"),
            Err(CryptoError::Decrypt)
        );
        assert_eq!(
            keys(2).secrets().decrypt(&sealed, "ctx:a"),
            Err(CryptoError::Decrypt)
        );
        let mut tampered = sealed.into_bytes();
        let last = tampered.len() - 1;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).expect("still ascii");
        assert_eq!(
            k.secrets().decrypt(&tampered, "ctx:a"),
            Err(CryptoError::Decrypt)
        );
    }

    #[test]
    fn malformed_input_is_reported() {
        let k = keys(1);
        assert_eq!(
            k.secrets().decrypt("plain", "c"),
            Err(CryptoError::Malformed)
        );
        assert_eq!(
            k.secrets().decrypt("v1.!!", "c"),
            Err(CryptoError::Malformed)
        );
        assert_eq!(
            k.secrets().decrypt("v1.AAAA", "c"),
            Err(CryptoError::Malformed)
        );
    }

    #[test]
    fn short_keys_are_refused_and_derivations_are_independent() {
        assert!(matches!(
            Keys::derive(&[0; 31]),
            Err(CryptoError::KeyTooShort)
        ));
        let k = keys(3);
        assert_ne!(&k.cookie_key()[..32], &keys(4).cookie_key()[..32]);
    }
}
