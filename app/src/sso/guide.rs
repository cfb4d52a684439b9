//! Provider-specific set-up steps: one data file per identity provider
//! (`guides/*.json`, listed by `build.rs`), rendered by one component. The
//! admin picks the provider with plain links; the steps name the IdP's own
//! menus and fields, with Latchkey's values and copy buttons beside them.

use super::SsoConfig;
use crate::ui::CopyField;
use leptos::prelude::*;
use serde::Deserialize;

/// Every guide file, as text (see `build.rs`).
const FILES: &[&str] = include!(concat!(env!("OUT_DIR"), "/guides.rs"));

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Guide {
    pub id: String,
    pub name: String,
    /// `oidc` or `saml`.
    pub protocol: String,
    /// Position in the picker.
    pub order: u32,
    pub intro: String,
    pub steps: Vec<GuideStep>,
    #[serde(default)]
    pub fields: Vec<FieldHint>,
    #[serde(default)]
    pub pitfalls: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuideStep {
    pub text: String,
    /// A Latchkey value shown with a copy button: see [`value_of`].
    #[serde(default)]
    pub copy: Option<String>,
}

/// What to enter in one of Latchkey's fields.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldHint {
    pub field: String,
    pub text: String,
}

/// The guides, in picker order (a file that does not parse is left out;
/// the unit test below keeps that from happening).
pub fn guides() -> Vec<Guide> {
    let mut all: Vec<Guide> = FILES
        .iter()
        .filter_map(|f| serde_json::from_str(f).ok())
        .collect();
    all.sort_by_key(|g| g.order);
    all
}

/// The value a step's `copy` names, from the SSO object.
fn value_of(config: &SsoConfig, key: &str) -> Option<String> {
    Some(match key {
        "redirect_uri" => config.redirect_uri.clone(),
        "backchannel_logout_uri" => config.backchannel_logout_uri.clone(),
        "initiate_login_uri" => config.initiate_login_uri.clone(),
        "post_logout_redirect_uri" => config.post_logout_redirect_uri.clone(),
        "sp_entity_id" => config.sp_entity_id.clone(),
        "acs_url" => config.acs_url.clone(),
        "slo_url" => config.slo_url.clone(),
        "sp_metadata_url" => config.sp_metadata_url.clone(),
        _ => return None,
    })
}

/// The picker and, once a provider is picked (`?guide=`), its steps. A
/// saved connection's protocol limits the choice to that protocol's guides.
#[component]
pub fn ProviderGuide(config: SsoConfig, picked: Option<String>) -> impl IntoView {
    let all: Vec<Guide> = guides()
        .into_iter()
        .filter(|g| !config.configured || g.protocol == config.protocol)
        .collect();
    let chosen = picked.and_then(|id| all.iter().find(|g| g.id == id).cloned());
    let chosen_id = chosen.as_ref().map(|g| g.id.clone());
    view! {
        <div class="provider-guide" id="guide">
            <h3>"Your identity provider"</h3>
            <nav class="provider-picker" aria-label="Identity provider">
                {all.into_iter().map(|g| {
                    let current = chosen_id.as_deref() == Some(g.id.as_str());
                    view! {
                        <a href=format!("?guide={}&protocol={}#guide", g.id, g.protocol) class="button small"
                            aria-current=current.then_some("true")>{g.name}</a>
                    }
                }).collect_view()}
            </nav>
            {chosen.map(|g| view! { <GuideSteps guide=g config=config.clone()/> })}
        </div>
    }
}

#[component]
fn GuideSteps(guide: Guide, config: SsoConfig) -> impl IntoView {
    let id = guide.id.clone();
    view! {
        <section class="guide" aria-labelledby="guide-heading" data-guide=guide.id.clone()>
            <h4 id="guide-heading">{format!("Set up {}", guide.name)}</h4>
            <p class="muted small">{guide.intro}</p>
            <ol class="guide-steps">
                {guide.steps.into_iter().enumerate().map(|(i, s)| {
                    let copy = s.copy.as_deref().and_then(|k| value_of(&config, k));
                    let field_id = format!("guide-{id}-{i}");
                    view! {
                        <li>
                            {copy.map(|value| view! { <CopyField label=s.text.clone() value id=field_id/> }.into_any())
                                .unwrap_or_else(|| view! { <span>{s.text}</span> }.into_any())}
                        </li>
                    }
                }).collect_view()}
            </ol>
            {(!guide.fields.is_empty()).then(|| view! {
                <h5>"In Latchkey's form"</h5>
                <dl class="facts">
                    {guide.fields.into_iter().map(|f| view! { <dt>{f.field}</dt><dd>{f.text}</dd> }).collect_view()}
                </dl>
            })}
            {(!guide.pitfalls.is_empty()).then(|| view! {
                <h5>"Known pitfalls"</h5>
                <ul class="pitfalls">
                    {guide.pitfalls.into_iter().map(|p| view! { <li>{p}</li> }).collect_view()}
                </ul>
            })}
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_guide_file_parses_and_names_only_known_values() {
        let all = guides();
        assert_eq!(all.len(), FILES.len(), "a guide file does not parse");
        let config = crate::sso::ssr::unconfigured("https://latchkey.example", "o1");
        let mut ids = std::collections::BTreeSet::new();
        for g in &all {
            assert!(ids.insert(g.id.clone()), "{} twice", g.id);
            assert!(matches!(g.protocol.as_str(), "oidc" | "saml"), "{}", g.id);
            assert!(!g.steps.is_empty(), "{}", g.id);
            for s in &g.steps {
                if let Some(k) = &s.copy {
                    assert!(
                        value_of(&config, k).is_some(),
                        "{}: unknown value {k}",
                        g.id
                    );
                }
            }
        }
        // The providers the console promises.
        for id in [
            "okta",
            "entra-id",
            "google",
            "auth0",
            "keycloak",
            "onelogin",
            "jumpcloud",
            "oidc",
            "entra-id-saml",
            "okta-saml",
            "saml",
        ] {
            assert!(ids.contains(id), "no guide {id}");
        }
    }
}
