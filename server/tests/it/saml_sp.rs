//! Each organization's SAML SP metadata at `GET /saml/{org_id}/metadata`:
//! public, stable, with a key pair made once and sealed at rest; nothing is
//! made for an organization that does not exist.

use crate::common::{Backend, TestApp};
use crate::on_each_backend;
use http::StatusCode;

async fn sp_metadata_is_public_stable_and_sealed(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (_, slug) = app.org_with_owner("owner@sp.test", "SP Co").await;
    let org_id: String = sqlx::query_scalar("SELECT id FROM organizations WHERE slug = $1")
        .bind(&slug)
        .fetch_one(&app.state.db)
        .await
        .expect("org id");

    // No cookie: an IdP fetches it.
    let res = app.get(&format!("/saml/{org_id}/metadata"), None).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(
        res.header("content-type"),
        Some("application/samlmetadata+xml")
    );
    let md = app::saml::idp_metadata::IdpMetadata::parse(&res.body).err();
    assert_eq!(
        md,
        Some(app::saml::SamlError::NoIdp),
        "an SP document, not an IdP's"
    );
    let doc = roxmltree::Document::parse(&res.body).expect("XML");
    let base = format!("{}/saml/{org_id}", app.state.settings.public_url);
    assert_eq!(
        doc.root_element().attribute("entityID"),
        Some(format!("{base}/metadata").as_str())
    );
    let location = |tag: &str| {
        doc.descendants()
            .find(|n| n.has_tag_name(tag))
            .and_then(|n| n.attribute("Location"))
            .map(str::to_owned)
    };
    assert_eq!(
        location("AssertionConsumerService"),
        Some(format!("{base}/acs"))
    );
    assert_eq!(location("SingleLogoutService"), Some(format!("{base}/slo")));
    let certs: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("X509Certificate"))
        .filter_map(|n| n.text())
        .collect();
    assert_eq!(certs.len(), 2, "signing and encryption");

    // The same key the next time; sealed in the database.
    let again = app.get(&format!("/saml/{org_id}/metadata"), None).await;
    assert_eq!(again.body, res.body);
    let (sealed, stored_cert): (String, String) =
        sqlx::query_as("SELECT key_enc, cert_b64 FROM saml_sp_keys WHERE org_id = $1")
            .bind(&org_id)
            .fetch_one(&app.state.db)
            .await
            .expect("key row");
    assert_eq!(stored_cert, certs[0]);
    let key = app::saml::sp::sp_key(&app.state, &org_id)
        .await
        .expect("key")
        .expect("exists");
    let key_b64 = data_encoding::BASE64.encode(&key.key_der);
    assert!(
        !sealed.contains(&key_b64[..40]),
        "the private key is sealed at rest"
    );

    // An unknown organization: 404, and no key is made for it.
    let res = app.get("/saml/org_doesnotexist/metadata", None).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM saml_sp_keys")
        .fetch_one(&app.state.db)
        .await
        .expect("count");
    assert_eq!(rows, 1);
}
on_each_backend!(sp_metadata_is_public_stable_and_sealed);
