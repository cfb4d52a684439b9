//! Reading and checking an OpenID Provider's discovery document and JWKS
//! when an admin saves the SSO configuration.

use super::net::{self, FetchError, Guard};
use crate::error::AppError;
use serde::Deserialize;

const WELL_KNOWN: &str = "/.well-known/openid-configuration";
/// Signature algorithms Latchkey accepts on ID tokens (never `none`).
pub const ALLOWED_ALGS: &[&str] = &[
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA",
];

/// The discovery document, as far as Latchkey uses it.
#[derive(Debug, Clone, Deserialize)]
pub struct Discovery {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: Option<String>,
    pub userinfo_endpoint: Option<String>,
    pub jwks_uri: String,
    pub end_session_endpoint: Option<String>,
    #[serde(default)]
    pub response_types_supported: Vec<String>,
    #[serde(default)]
    pub id_token_signing_alg_values_supported: Vec<String>,
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
}

/// `(discovery document URL, issuer the admin meant)` for what was entered:
/// an issuer URL or the full `/.well-known/openid-configuration` URL.
pub fn split_discovery_url(input: &str) -> (String, String) {
    let input = input.trim();
    match input.strip_suffix(WELL_KNOWN) {
        Some(issuer) => (input.to_owned(), issuer.to_owned()),
        None => {
            let issuer = input.trim_end_matches('/');
            (format!("{issuer}{WELL_KNOWN}"), issuer.to_owned())
        }
    }
}

fn on_discovery(msg: impl Into<String>) -> AppError {
    AppError::unprocessable("invalid_discovery", msg).on("discovery_url")
}

fn fetch_error(e: FetchError) -> AppError {
    on_discovery(e.to_string())
}

/// Fetches and checks everything Save promises: the document, its issuer,
/// the `code` flow, every endpoint through the SSRF guard, and a JWKS with
/// at least one usable signing key.
pub async fn validate(guard: Guard, input: &str) -> Result<Discovery, AppError> {
    if input.trim().is_empty() {
        return Err(on_discovery(
            "Enter your identity provider's issuer URL or discovery URL.",
        ));
    }
    let (doc_url, expected_issuer) = split_discovery_url(input);
    let body = net::get(guard, &doc_url).await.map_err(fetch_error)?;
    check_document(guard, &doc_url, &expected_issuer, &body).await
}

/// The second hop: what the fetched document says, and every URL it names
/// through the same guard as the first (a public discovery URL naming a
/// private JWKS or token endpoint is refused before anything is fetched).
async fn check_document(
    guard: Guard,
    doc_url: &str,
    expected_issuer: &str,
    body: &[u8],
) -> Result<Discovery, AppError> {
    let doc: Discovery = serde_json::from_slice(body).map_err(|e| {
        on_discovery(format!(
            "The document at {doc_url} is not an OpenID Connect discovery document ({}).",
            e.to_string()
                .split(" at line")
                .next()
                .unwrap_or("unreadable")
        ))
    })?;
    if doc.issuer.trim_end_matches('/') != expected_issuer.trim_end_matches('/') {
        return Err(on_discovery(format!(
            "The discovery document at {doc_url} says its issuer is {}, not {expected_issuer}. Enter the issuer exactly as your provider names it.",
            doc.issuer
        )));
    }
    if !doc.response_types_supported.iter().any(|t| t == "code") {
        return Err(on_discovery(
            "This provider does not support the authorization code flow (response type `code`), which Latchkey uses.",
        ));
    }
    if doc.token_endpoint.is_none() {
        return Err(on_discovery(
            "The discovery document names no token endpoint.",
        ));
    }
    for endpoint in [
        Some(&doc.authorization_endpoint),
        Some(&doc.jwks_uri),
        doc.token_endpoint.as_ref(),
        doc.userinfo_endpoint.as_ref(),
        doc.end_session_endpoint.as_ref(),
    ]
    .into_iter()
    .flatten()
    {
        net::check_url(guard, endpoint).await.map_err(fetch_error)?;
    }
    let jwks = net::get(guard, &doc.jwks_uri).await.map_err(fetch_error)?;
    let usable = usable_keys(&jwks)
        .map_err(|why| on_discovery(format!("The key set at {} {why}", doc.jwks_uri)))?;
    if usable == 0 {
        return Err(on_discovery(format!(
            "The key set at {} holds no signing key Latchkey can use (RSA, EC or OKP keys for {}).",
            doc.jwks_uri,
            ALLOWED_ALGS.join(", ")
        )));
    }
    Ok(doc)
}

/// Counts keys that can verify ID tokens with an allowed algorithm.
pub fn usable_keys(jwks: &[u8]) -> Result<usize, String> {
    #[derive(Deserialize)]
    struct Jwks {
        keys: Vec<serde_json::Value>,
    }
    let set: Jwks =
        serde_json::from_slice(jwks).map_err(|_| "is not a JSON Web Key Set.".to_owned())?;
    Ok(set
        .keys
        .iter()
        .filter(|k| {
            let kty = k["kty"].as_str().unwrap_or("");
            let use_ok = k["use"].as_str().is_none_or(|u| u == "sig");
            let alg_ok = k["alg"].as_str().is_none_or(|a| ALLOWED_ALGS.contains(&a));
            matches!(kty, "RSA" | "EC" | "OKP") && use_ok && alg_ok
        })
        .count())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuer_or_well_known_url() {
        assert_eq!(
            split_discovery_url("https://idp.example.com/"),
            (
                "https://idp.example.com/.well-known/openid-configuration".into(),
                "https://idp.example.com".into()
            )
        );
        assert_eq!(
            split_discovery_url(
                " https://idp.example.com/tenant/.well-known/openid-configuration "
            ),
            (
                "https://idp.example.com/tenant/.well-known/openid-configuration".into(),
                "https://idp.example.com/tenant".into()
            )
        );
    }

    /// A discovery document as a public provider would serve it (public
    /// address literals, so nothing is resolved), with one endpoint replaced.
    fn document(field: &str, url: &str) -> Vec<u8> {
        let mut doc = serde_json::json!({
            "issuer": "https://idp.example.com",
            "authorization_endpoint": "https://93.184.216.34/auth",
            "token_endpoint": "https://93.184.216.34/token",
            "userinfo_endpoint": "https://93.184.216.34/me",
            "end_session_endpoint": "https://93.184.216.34/logout",
            "jwks_uri": "https://93.184.216.34/jwks",
            "response_types_supported": ["code"],
        });
        doc[field] = url.into();
        serde_json::to_vec(&doc).expect("json")
    }

    #[tokio::test]
    async fn urls_named_by_the_document_pass_the_same_guard() {
        let strict = Guard {
            allow_private: false,
        };
        for (field, private) in [
            ("jwks_uri", "https://10.0.0.5/jwks"),
            ("token_endpoint", "https://[::ffff:169.254.169.254]/token"),
            ("userinfo_endpoint", "https://127.0.0.1:8443/me"),
            ("authorization_endpoint", "https://192.168.1.1/auth"),
            ("end_session_endpoint", "https://[fd00::1]/logout"),
            ("token_endpoint", "http://93.184.216.34/token"),
        ] {
            let e = check_document(
                strict,
                "https://idp.example.com/.well-known/openid-configuration",
                "https://idp.example.com",
                &document(field, private),
            )
            .await
            .expect_err(private);
            assert_eq!(e.code, "invalid_discovery", "{private}");
            assert!(e.message.contains(private), "{private}: {}", e.message);
            assert!(
                e.message.contains("private, local or reserved") || e.message.contains("https"),
                "{private}: {}",
                e.message
            );
        }
    }

    #[test]
    fn usable_keys_need_a_signing_type_and_an_allowed_alg() {
        let jwks = br#"{"keys":[
            {"kty":"RSA","alg":"RS256","use":"sig","n":"x","e":"AQAB"},
            {"kty":"RSA","use":"enc","n":"x","e":"AQAB"},
            {"kty":"oct","k":"secret"},
            {"kty":"EC","alg":"ES256","crv":"P-256"},
            {"kty":"RSA","alg":"none"}
        ]}"#;
        assert_eq!(usable_keys(jwks), Ok(2));
        assert!(usable_keys(b"[]").is_err());
        assert_eq!(usable_keys(br#"{"keys":[]}"#), Ok(0));
    }
}
