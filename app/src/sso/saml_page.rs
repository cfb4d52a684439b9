//! The SAML 2.0 parts of Settings › Security › Single sign-on: what to
//! register at the IdP, the IdP as its metadata describes it, and the form.

use super::page::{CarryOverCheckbox, RequireSsoCheckbox, SessionLifetimeField};
use super::{RotateSamlSpKey, SaveSso, SsoConfig};
use crate::error::AppError;
use crate::ui::{Confirm, CopyField, Field, FormError, SubmitButton, format_time};
use leptos::prelude::*;

/// Step 1: the service provider's addresses, with the names Entra ID and
/// Okta give their fields.
#[component]
pub fn SamlSetup(config: SsoConfig, org: String, writer: bool) -> impl IntoView {
    let rotate = ServerAction::<RotateSamlSpKey>::new();
    let sp_cert = config.sp_certificate.clone().map(|c| {
        view! {
            <p class="muted small" data-sp-certificate>
                "Latchkey's SP certificate: " <code>{c.sha256_fingerprint}</code>
                ", valid until " {format_time(c.not_after)} "."
            </p>
            {writer.then(|| view! {
                <Confirm label="Rotate the SP key…" question=ROTATE_QUESTION>
                    <ActionForm action=rotate>
                        <input type="hidden" name="org" value=org.clone()/>
                        <SubmitButton label="Yes, rotate" pending_label="Rotating…" class="button small danger"/>
                    </ActionForm>
                </Confirm>
            })}
        }
    });
    view! {
        <div class="idp-setup">
            <h3>"1. Register Latchkey at your identity provider"</h3>
            <p class="muted small">
                "Create a SAML 2.0 application (Entra ID: Enterprise application › Single sign-on › SAML; "
                "Okta: Applications › Create App Integration › SAML 2.0). Give it these values, or let it read "
                "Latchkey's metadata from the URL below:"
            </p>
            <CopyField label="SP entity ID (Entra ID: Identifier; Okta: Audience URI)" value=config.sp_entity_id.clone() id="saml-sp-entity-id"/>
            <CopyField label="ACS URL, HTTP-POST (Entra ID: Reply URL; Okta: Single sign-on URL)" value=config.acs_url.clone() id="saml-acs-url"/>
            <CopyField label="Single logout URL" value=config.slo_url.clone() id="saml-slo-url"/>
            <CopyField label="SP metadata URL" value=config.sp_metadata_url.clone() id="saml-sp-metadata-url"/>
            <p class="small">
                <a href=config.sp_metadata_url.clone() download="latchkey-sp-metadata.xml">"Download the SP metadata XML"</a>
                " (it holds the certificate your IdP can encrypt assertions to)."
            </p>
            {sp_cert}
            <p class="muted small">
                "Send the email address as an attribute (Entra ID sends "
                <code>"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"</code>
                "; Okta: add an attribute statement " <code>"email"</code> " = " <code>"user.email"</code>
                "), and a groups attribute if roles should follow groups."
            </p>
            {config.login_url.clone().map(|url| view! {
                <CopyField label="Login URL to share with your people" value=url id="sso-login-url"/>
            })}
        </div>
    }
}

const ROTATE_QUESTION: &str = "A new SP key pair replaces this one at once, and the SP metadata shows its \
     certificate. Where your IdP encrypts assertions or checks signed requests, import the new SP metadata \
     there; until the next rotation, assertions encrypted to the old key still open.";

/// The IdP as Latchkey read it: entity ID, sign-on URL, certificates.
#[component]
pub fn SamlIdpFacts(config: SsoConfig) -> impl IntoView {
    config.configured.then(|| {
        let certs = config.idp_certificates.clone();
        view! {
            <dl class="facts" data-saml-idp>
                <dt>"IdP entity ID"</dt><dd class="mono">{config.issuer.clone().unwrap_or_default()}</dd>
                <dt>"Sign-on URL"</dt><dd class="mono">{config.idp_sso_url.clone().unwrap_or_default()}</dd>
                <dt>"Metadata"</dt>
                <dd class="mono">{config.idp_metadata_url.clone().unwrap_or_else(|| "pasted XML".into())}</dd>
            </dl>
            <table class="claims" aria-label="IdP signing certificates">
                <thead><tr><th scope="col">"Signing certificate"</th><th scope="col">"Expires"</th><th scope="col">"SHA-256 fingerprint"</th></tr></thead>
                <tbody>
                    {certs.into_iter().map(|c| view! {
                        <tr data-cert-expires-soon=c.expires_soon.to_string()>
                            <td>{c.subject}</td>
                            <td>
                                {format_time(c.not_after)}
                                {c.expires_soon.then(|| view! {
                                    <span class="badge warning">" expires within 30 days: rotate it at the IdP and refresh the metadata"</span>
                                })}
                            </td>
                            <td class="mono small">{c.sha256_fingerprint}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        }
    })
}

/// Step 2: the IdP's metadata and the SAML switches.
#[component]
pub fn SamlForm(
    config: SsoConfig,
    org: String,
    save: ServerAction<SaveSso>,
    error: Signal<Option<AppError>>,
) -> impl IntoView {
    let err =
        move |f: &'static str| Signal::derive(move || error.get().and_then(|e| e.message_for(f)));
    let xml_error = err("idp_metadata_xml");
    let names = config.attributes.clone();
    view! {
        <ActionForm action=save>
            <input type="hidden" name="org" value=org/>
            <input type="hidden" name="form[protocol]" value="saml"/>
            <Field label="Provider label" name="form[provider_label]" value=config.provider_label.clone()
                hint="The text on the sign-in button, e.g. Microsoft Entra ID." required=true error=err("provider_label")/>
            <Field label="IdP metadata URL" name="form[idp_metadata_url]" input_type="url"
                value=config.idp_metadata_url.clone().unwrap_or_default()
                hint="Entra ID: App Federation Metadata Url; Okta: Metadata URL. Fetched now and refreshed daily; saving again refreshes it."
                error=err("idp_metadata_url")/>
            <div class="field" class:has-error=move || xml_error.get().is_some()>
                <label for="field-form[idp_metadata_xml]">"…or paste the IdP metadata XML"</label>
                <textarea id="field-form[idp_metadata_xml]" name="form[idp_metadata_xml]" rows="4" class="mono"
                    autofocus=move || xml_error.get().is_some()
                    aria-invalid=move || xml_error.get().is_some().then_some("true")
                    aria-describedby=move || if xml_error.get().is_some() {
                        "field-form[idp_metadata_xml]-hint field-form[idp_metadata_xml]-error"
                    } else {
                        "field-form[idp_metadata_xml]-hint"
                    }></textarea>
                <p class="field-hint" id="field-form[idp_metadata_xml]-hint">
                    "Leave both empty to keep the metadata Latchkey has."
                </p>
                {move || xml_error.get().map(|e| view! {
                    <p class="field-error" id="field-form[idp_metadata_xml]-error" role="alert">{e}</p>
                })}
            </div>
            <SessionLifetimeField secs=config.session_max_age_secs error=err("session_max_age_hours")/>
            <label class="checkbox">
                <input type="checkbox" name="form[allow_idp_initiated]" value="on" checked=config.allow_idp_initiated aria-describedby="idp-initiated-hint"/>
                " Allow IdP-initiated sign-in (from the IdP's app portal)."
            </label>
            <p class="field-hint" id="idp-initiated-hint">
                "Off by default: a response nobody asked for can be sent to anyone's browser by a page that posts it, so it can sign a person in as someone else without their asking (a browser already signed in is asked first). Turn it on only if people start from the IdP's portal; each response is accepted once."
            </p>
            <label class="checkbox">
                <input type="checkbox" name="form[allow_sha1]" value="on" checked=config.allow_sha1/>
                " Accept SHA-1 signatures (weak: only for an IdP that cannot sign with SHA-256)."
            </label>
            <label class="checkbox">
                <input type="checkbox" name="form[allow_aes_cbc]" value="on" checked=config.allow_aes_cbc/>
                " Accept assertions encrypted with AES-CBC (Entra ID and Okta encrypt with it unless set to AES-GCM; AES-GCM is always accepted)."
            </label>
            <RequireSsoCheckbox checked=config.require_sso/>
            {use_context::<crate::orgs::ConsoleContext>()
                .is_some_and(|c| super::page::is_approver(&c))
                .then(|| view! { <CarryOverCheckbox checked=config.carry_over_accounts/> })}
            <div class="field">
                <label for="field-attribute-preset">"Attribute names"</label>
                <select id="field-attribute-preset" name="form[attribute_preset]">
                    <option value="" selected>"Keep the names below"</option>
                    <option value="entra">"Microsoft Entra ID's"</option>
                    <option value="okta">"Okta's (email, firstName, lastName, displayName, groups)"</option>
                    <option value="generic">"Generic SAML (email, givenName, sn, displayName, groups)"</option>
                </select>
            </div>
            <details class="advanced">
                <summary>"Advanced: attribute names"</summary>
                <p class="muted small">
                    "Entra ID sends http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress, …/givenname, …/surname and "
                    "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups; Okta sends the names you give its attribute statements."
                </p>
                <Field label="Email attribute" name="form[claim_email]" value=names.email error=err("claim_email")/>
                <Field label="Display name attribute" name="form[claim_name]" value=names.name error=err("claim_name")/>
                <Field label="First name attribute" name="form[claim_given_name]" value=names.given_name error=err("claim_given_name")/>
                <Field label="Last name attribute" name="form[claim_family_name]" value=names.family_name error=err("claim_family_name")/>
                <Field label="Groups attribute" name="form[claim_groups]" value=names.groups error=err("claim_groups")/>
            </details>
            <FormError error fields=&["provider_label", "idp_metadata_url", "idp_metadata_xml", "session_max_age_hours"]/>
            <SubmitButton label="Save" pending_label="Reading your IdP's metadata…"/>
        </ActionForm>
    }
}
