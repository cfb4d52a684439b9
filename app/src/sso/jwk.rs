//! The provider's signing keys, with signatures checked by `ring`.
//!
//! `openidconnect`'s own key type verifies RSA with the pure-Rust `rsa`
//! crate, rebuilding the big-number key for every token: the largest
//! user-space cost of an SSO sign-in. This type keeps that key for what it
//! knows (IDs, use, type, `alg` constraint) and holds the public key bytes
//! ready for `ring`, which verifies the same signatures several times faster.
//! Keys `ring` does not take (RSA under 2048 bits, other curves, symmetric
//! keys) are verified as before.

use openidconnect::core::{
    CoreJsonWebKey, CoreJsonWebKeyType, CoreJsonWebKeyUse, CoreJwsSigningAlgorithm,
};
use openidconnect::{
    JsonWebKey, JsonWebKeyAlgorithm, JsonWebKeyId, JsonWebKeyUse, JwsSigningAlgorithm,
    SignatureVerificationError,
};
use ring::signature::{self as sig, RsaPublicKeyComponents, UnparsedPublicKey};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// One key of a provider's JWK set.
#[derive(Debug, Clone)]
pub struct Jwk {
    core: CoreJsonWebKey,
    public: Option<PublicKey>,
}

/// Public key material in the encodings `ring` takes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum PublicKey {
    /// Big-endian modulus and exponent, without leading zeros.
    Rsa {
        n: Vec<u8>,
        e: Vec<u8>,
    },
    /// An uncompressed SEC1 point (0x04 ‖ x ‖ y).
    P256(Vec<u8>),
    P384(Vec<u8>),
    Ed25519(Vec<u8>),
}

/// RSA keys `ring` accepts for verification.
const RSA_MIN_BITS: usize = 2048;

impl PublicKey {
    fn from_json(v: &Value) -> Option<Self> {
        let field = |name: &str| -> Option<Vec<u8>> {
            let s = v.get(name)?.as_str()?;
            base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, s).ok()
        };
        match v.get("kty")?.as_str()? {
            "RSA" => {
                let n = trim_leading_zeros(field("n")?);
                let e = trim_leading_zeros(field("e")?);
                (n.len() * 8 >= RSA_MIN_BITS && !e.is_empty()).then_some(Self::Rsa { n, e })
            }
            "EC" => {
                let (x, y) = (field("x")?, field("y")?);
                let (len, make): (usize, fn(Vec<u8>) -> Self) = match v.get("crv")?.as_str()? {
                    "P-256" => (32, Self::P256),
                    "P-384" => (48, Self::P384),
                    _ => return None,
                };
                (x.len() == len && y.len() == len).then(|| {
                    let mut point = Vec::with_capacity(1 + 2 * len);
                    point.push(0x04);
                    point.extend_from_slice(&x);
                    point.extend_from_slice(&y);
                    make(point)
                })
            }
            "OKP" if v.get("crv")?.as_str()? == "Ed25519" => {
                let x = field("x")?;
                (x.len() == 32).then_some(Self::Ed25519(x))
            }
            _ => None,
        }
    }

    /// `None` when `ring` has no verifier for this key and algorithm pair;
    /// the caller then verifies as `openidconnect` does.
    fn verify(
        &self,
        alg: &CoreJwsSigningAlgorithm,
        message: &[u8],
        signature: &[u8],
    ) -> Option<bool> {
        use CoreJwsSigningAlgorithm as A;
        let ok = match (self, alg) {
            (Self::Rsa { n, e }, _) => {
                let params: &sig::RsaParameters = match alg {
                    A::RsaSsaPkcs1V15Sha256 => &sig::RSA_PKCS1_2048_8192_SHA256,
                    A::RsaSsaPkcs1V15Sha384 => &sig::RSA_PKCS1_2048_8192_SHA384,
                    A::RsaSsaPkcs1V15Sha512 => &sig::RSA_PKCS1_2048_8192_SHA512,
                    A::RsaSsaPssSha256 => &sig::RSA_PSS_2048_8192_SHA256,
                    A::RsaSsaPssSha384 => &sig::RSA_PSS_2048_8192_SHA384,
                    A::RsaSsaPssSha512 => &sig::RSA_PSS_2048_8192_SHA512,
                    _ => return None,
                };
                RsaPublicKeyComponents { n, e }
                    .verify(params, message, signature)
                    .is_ok()
            }
            (Self::P256(point), A::EcdsaP256Sha256) => {
                UnparsedPublicKey::new(&sig::ECDSA_P256_SHA256_FIXED, point)
                    .verify(message, signature)
                    .is_ok()
            }
            (Self::P384(point), A::EcdsaP384Sha384) => {
                UnparsedPublicKey::new(&sig::ECDSA_P384_SHA384_FIXED, point)
                    .verify(message, signature)
                    .is_ok()
            }
            (Self::Ed25519(x), A::EdDsa) => UnparsedPublicKey::new(&sig::ED25519, x)
                .verify(message, signature)
                .is_ok(),
            _ => return None,
        };
        Some(ok)
    }
}

fn trim_leading_zeros(mut bytes: Vec<u8>) -> Vec<u8> {
    let zeros = bytes.iter().take_while(|b| **b == 0).count();
    bytes.drain(..zeros);
    bytes
}

/// The checks `openidconnect` makes before verifying with a key: usable for
/// signatures, of the algorithm's type, and not bound to another algorithm.
fn check_compatible(key: &Jwk, alg: &CoreJwsSigningAlgorithm) -> Result<(), &'static str> {
    if key.key_use().is_some_and(|u| !u.allows_signature()) {
        return Err("key usage not permitted for digital signatures");
    }
    if alg.key_type().as_ref() != Some(key.key_type()) {
        return Err("key type does not match signature algorithm");
    }
    match key.signing_alg() {
        JsonWebKeyAlgorithm::Unspecified => Ok(()),
        JsonWebKeyAlgorithm::Algorithm(a) if a == alg => Ok(()),
        JsonWebKeyAlgorithm::Algorithm(_) => Err("incompatible key algorithm"),
        JsonWebKeyAlgorithm::Unsupported => Err("key algorithm is not a signing algorithm"),
    }
}

impl Serialize for Jwk {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.core.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Jwk {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(d)?;
        let public = PublicKey::from_json(&value);
        let core = CoreJsonWebKey::deserialize(value).map_err(serde::de::Error::custom)?;
        Ok(Self { core, public })
    }
}

impl JsonWebKey for Jwk {
    type KeyUse = CoreJsonWebKeyUse;
    type SigningAlgorithm = CoreJwsSigningAlgorithm;

    fn key_id(&self) -> Option<&JsonWebKeyId> {
        self.core.key_id()
    }

    fn key_type(&self) -> &CoreJsonWebKeyType {
        self.core.key_type()
    }

    fn key_use(&self) -> Option<&CoreJsonWebKeyUse> {
        self.core.key_use()
    }

    fn signing_alg(&self) -> JsonWebKeyAlgorithm<&CoreJwsSigningAlgorithm> {
        self.core.signing_alg()
    }

    fn new_symmetric(key: Vec<u8>) -> Self {
        Self {
            core: CoreJsonWebKey::new_symmetric(key),
            public: None,
        }
    }

    fn verify_signature(
        &self,
        alg: &CoreJwsSigningAlgorithm,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), SignatureVerificationError> {
        check_compatible(self, alg)
            .map_err(|e| SignatureVerificationError::InvalidKey(e.to_owned()))?;
        match self
            .public
            .as_ref()
            .and_then(|k| k.verify(alg, message, signature))
        {
            Some(true) => Ok(()),
            Some(false) => Err(SignatureVerificationError::CryptoError(
                "bad signature".to_owned(),
            )),
            None => self.core.verify_signature(alg, message, signature),
        }
    }

    fn hash_bytes(&self, bytes: &[u8], alg: &CoreJwsSigningAlgorithm) -> Result<Vec<u8>, String> {
        self.core.hash_bytes(bytes, alg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use ring::rand::SystemRandom;
    use ring::signature::{EcdsaKeyPair, Ed25519KeyPair, KeyPair};
    use serde_json::json;

    fn b64(bytes: &[u8]) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }

    fn key(v: Value) -> Jwk {
        serde_json::from_value(v).expect("a valid JWK")
    }

    fn p256_pair() -> (EcdsaKeyPair, Jwk) {
        let rng = SystemRandom::new();
        let alg = &sig::ECDSA_P256_SHA256_FIXED_SIGNING;
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(alg, &rng).expect("keygen");
        let pair = EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).expect("key");
        let point = pair.public_key().as_ref();
        let jwk = key(json!({
            "kty": "EC", "crv": "P-256", "kid": "ec", "use": "sig",
            "x": b64(&point[1..33]), "y": b64(&point[33..]),
        }));
        (pair, jwk)
    }

    #[test]
    fn ec_and_ed_signatures_verify_and_altered_ones_do_not() {
        let rng = SystemRandom::new();
        let (pair, jwk) = p256_pair();
        assert!(matches!(jwk.public, Some(PublicKey::P256(_))));
        let signature = pair.sign(&rng, b"header.payload").expect("sign");
        let es256 = CoreJwsSigningAlgorithm::EcdsaP256Sha256;
        assert!(
            jwk.verify_signature(&es256, b"header.payload", signature.as_ref())
                .is_ok()
        );
        assert!(
            jwk.verify_signature(&es256, b"header.payloaD", signature.as_ref())
                .is_err()
        );
        // The same bytes under an algorithm of another key type are refused
        // before any verification.
        let rs256 = CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256;
        assert!(matches!(
            jwk.verify_signature(&rs256, b"header.payload", signature.as_ref()),
            Err(SignatureVerificationError::InvalidKey(_))
        ));

        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).expect("keygen");
        let ed = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).expect("key");
        let jwk = key(json!({"kty": "OKP", "crv": "Ed25519", "x": b64(ed.public_key().as_ref())}));
        let signature = ed.sign(b"m");
        let eddsa = CoreJwsSigningAlgorithm::EdDsa;
        assert!(
            jwk.verify_signature(&eddsa, b"m", signature.as_ref())
                .is_ok()
        );
        let mut bad = signature.as_ref().to_vec();
        bad[0] ^= 1;
        assert!(jwk.verify_signature(&eddsa, b"m", &bad).is_err());
    }

    #[test]
    fn a_key_bound_to_another_algorithm_or_to_encryption_is_refused() {
        let rng = SystemRandom::new();
        let (pair, jwk) = p256_pair();
        let signature = pair.sign(&rng, b"m").expect("sign");
        let es256 = CoreJwsSigningAlgorithm::EcdsaP256Sha256;
        let mut v = serde_json::to_value(&jwk).expect("serializes");
        v["use"] = json!("enc");
        assert!(
            key(v.clone())
                .verify_signature(&es256, b"m", signature.as_ref())
                .is_err()
        );
        v["use"] = json!("sig");
        v["alg"] = json!("ES384");
        assert!(
            key(v.clone())
                .verify_signature(&es256, b"m", signature.as_ref())
                .is_err()
        );
        v["alg"] = json!("ES256");
        assert!(
            key(v)
                .verify_signature(&es256, b"m", signature.as_ref())
                .is_ok()
        );
    }

    #[test]
    fn rsa_keys_are_read_without_leading_zeros_and_short_ones_left_to_openidconnect() {
        let mut n = vec![0u8; 1];
        n.extend(std::iter::repeat_n(0xc5, 256));
        let jwk = key(json!({"kty": "RSA", "n": b64(&n), "e": "AQAB"}));
        assert_eq!(
            jwk.public,
            Some(PublicKey::Rsa {
                n: n[1..].to_vec(),
                e: vec![1, 0, 1]
            })
        );
        let short = key(json!({"kty": "RSA", "n": b64(&[0xc5; 128]), "e": "AQAB"}));
        assert_eq!(short.public, None);
        // Serialized back as a JWK, with the fields it came with.
        let v = serde_json::to_value(&jwk).expect("serializes");
        assert_eq!(v["kty"], "RSA");
        assert_eq!(v["e"], "AQAB");
    }
}
