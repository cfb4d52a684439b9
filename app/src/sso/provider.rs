//! Provider metadata and signing keys, cached per issuer (never per `kid`
//! alone), fetched through the SSRF guard. An ID token naming a key the
//! cache lacks triggers one re-fetch of the key set, at most once a minute
//! per issuer across all instances (the claim is made in the shared
//! database), so a flood of bad tokens cannot make Latchkey hammer an IdP.

use super::jwk::Jwk;
use super::net::{self, FetchError, Guard};
use crate::ssr::db::Db;
use openidconnect::core::{
    CoreAuthDisplay, CoreClaimName, CoreClaimType, CoreClientAuthMethod, CoreGrantType,
    CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm, CoreResponseMode,
    CoreResponseType, CoreSubjectIdentifierType,
};
use openidconnect::{
    AdditionalProviderMetadata, DiscoveryError, HttpRequest, HttpResponse, IssuerUrl,
    JsonWebKeySet, ProviderMetadata,
};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const METADATA_TTL: Duration = Duration::from_secs(15 * 60);
const JWKS_REFETCH_INTERVAL: Duration = Duration::from_secs(60);

/// The discovery fields Latchkey reads beyond the core set: RFC 9207's
/// `iss` flag and RP-initiated logout's endpoint.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ExtraMetadata {
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: Option<bool>,
    #[serde(default)]
    pub end_session_endpoint: Option<String>,
}

impl AdditionalProviderMetadata for ExtraMetadata {}

pub type Metadata = ProviderMetadata<
    ExtraMetadata,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    Jwk,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

/// The HTTP client the `openidconnect` crate calls: every request goes
/// through the SSRF guard.
pub fn http_client(
    guard: Guard,
) -> impl Fn(
    HttpRequest,
) -> std::pin::Pin<Box<dyn Future<Output = Result<HttpResponse, FetchError>> + Send>>
+ Send
+ Sync {
    move |req| Box::pin(net::send(guard, req))
}

struct Entry {
    metadata: Metadata,
    fetched_at: Instant,
}

#[derive(Default)]
pub struct ProviderCache {
    entries: Mutex<HashMap<String, Entry>>,
    /// When each issuer's key set was last re-fetched for an unknown key;
    /// kept apart so a metadata refresh does not reset the limit.
    refetched: Mutex<HashMap<String, Instant>>,
}

impl std::fmt::Debug for ProviderCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProviderCache")
    }
}

fn discovery_message(e: DiscoveryError<FetchError>) -> String {
    match e {
        DiscoveryError::Request(inner) => inner.to_string(),
        DiscoveryError::Validation(why) => why,
        DiscoveryError::Response(status, _, _) => {
            format!("The provider answered discovery with HTTP {status}.")
        }
        DiscoveryError::Parse(_) => "The provider's discovery document is not valid.".into(),
        other => other.to_string(),
    }
}

/// Takes the once-a-minute right to re-fetch `issuer`'s keys in the shared
/// database; false when any instance took it within the minute.
async fn claim_refetch(db: &Db, issuer: &str) -> Result<bool, sqlx::Error> {
    let now = crate::ssr::now();
    let window = i64::try_from(JWKS_REFETCH_INTERVAL.as_secs()).unwrap_or(60);
    let renewed = sqlx::query(
        "UPDATE sso_jwks_refetches SET fetched_at = $2 WHERE issuer = $1 AND fetched_at <= $3",
    )
    .bind(issuer)
    .bind(now)
    .bind(now - window)
    .execute(db)
    .await?
    .rows_affected();
    if renewed == 1 {
        return Ok(true);
    }
    let first = sqlx::query(
        "INSERT INTO sso_jwks_refetches (issuer, fetched_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
    )
    .bind(issuer)
    .bind(now)
    .execute(db)
    .await?
    .rows_affected();
    Ok(first == 1)
}

impl ProviderCache {
    fn cached(&self, issuer: &str, fresh_for: Duration) -> Option<Metadata> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .get(issuer)
            .filter(|e| e.fetched_at.elapsed() < fresh_for)
            .map(|e| e.metadata.clone())
    }

    /// The provider's metadata with its key set; fetched when missing or
    /// older than 15 minutes. The document's issuer must equal `issuer`.
    pub async fn metadata(&self, guard: Guard, issuer: &str) -> Result<Metadata, String> {
        if let Some(m) = self.cached(issuer, METADATA_TTL) {
            return Ok(m);
        }
        let issuer_url = IssuerUrl::new(issuer.to_owned())
            .map_err(|_| format!("{issuer} is not a valid issuer URL."))?;
        let metadata = Metadata::discover_async(issuer_url, &http_client(guard))
            .await
            .map_err(discovery_message)?;
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(
                issuer.to_owned(),
                Entry {
                    metadata: metadata.clone(),
                    fetched_at: Instant::now(),
                },
            );
        Ok(metadata)
    }

    /// Re-fetches the key set of `issuer` after a token named an unknown
    /// key. `Ok(None)` when this or another instance re-fetched it less than
    /// a minute ago.
    pub async fn refetch_jwks(
        &self,
        db: &Db,
        guard: Guard,
        issuer: &str,
    ) -> Result<Option<Metadata>, String> {
        let Some(metadata) = self.cached(issuer, Duration::MAX) else {
            return Ok(None);
        };
        {
            let mut refetched = self.refetched.lock().unwrap_or_else(|p| p.into_inner());
            if refetched
                .get(issuer)
                .is_some_and(|at| at.elapsed() < JWKS_REFETCH_INTERVAL)
            {
                return Ok(None);
            }
            // Claimed before the fetch, so concurrent callers do not all fetch.
            refetched.insert(issuer.to_owned(), Instant::now());
        }
        match claim_refetch(db, issuer).await {
            Ok(true) => {}
            Ok(false) => return Ok(None),
            Err(e) => {
                tracing::error!(error = %e, "could not record a key set re-fetch");
                return Ok(None);
            }
        }
        let jwks = JsonWebKeySet::fetch_async(metadata.jwks_uri(), &http_client(guard))
            .await
            .map_err(|e| format!("The provider's key set could not be fetched: {e}"))?;
        let metadata = metadata.set_jwks(jwks);
        if let Some(entry) = self
            .entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_mut(issuer)
        {
            entry.metadata = metadata.clone();
        }
        Ok(Some(metadata))
    }

    /// Whatever metadata is cached for `issuer`, however old; never fetches.
    pub fn peek(&self, issuer: &str) -> Option<Metadata> {
        self.cached(issuer, Duration::MAX)
    }

    /// Forgets `issuer`, e.g. after its configuration was saved again.
    pub fn forget(&self, issuer: &str) {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(issuer);
    }
}
