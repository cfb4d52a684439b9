//! Small components shared by every page.

mod copy;
mod form;
mod time;

pub use copy::CopyField;
pub use form::{Field, FormError, SubmitButton};
pub use time::{format_time, parse_date};

use leptos::prelude::*;
use leptos_meta::Title;

/// What a page shows when it has nothing to list yet.
#[component]
pub fn EmptyState(#[prop(into)] title: String, children: Children) -> impl IntoView {
    view! {
        <div class="empty-state">
            <h3>{title}</h3>
            <div class="empty-state-body">{children()}</div>
        </div>
    }
}

/// A destructive action behind a disclosure: the first click only reveals
/// the question and the real button (in `children`). Works without JS.
#[component]
pub fn Confirm(
    #[prop(into)] label: String,
    #[prop(into)] question: String,
    children: Children,
) -> impl IntoView {
    view! {
        <details class="confirm">
            <summary class="button small danger">{label}</summary>
            <div class="confirm-body">
                <p>{question}</p>
                {children()}
            </div>
        </details>
    }
}

/// A readable error panel for a page that could not load.
#[component]
pub fn ErrorPanel(#[prop(into)] title: String, #[prop(into)] message: String) -> impl IntoView {
    view! {
        <div class="panel error-panel" role="alert">
            <h2>{title}</h2>
            <p>{message}</p>
            <p>
                <a href="/">"Back to your organizations"</a>
            </p>
        </div>
    }
}

/// Percent-encodes a path for use as a query value (`return_to=`).
pub fn encode_query_value(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for b in raw.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn encodes_query_values() {
        assert_eq!(
            super::encode_query_value("/o/a b?x=1&y"),
            "/o/a%20b%3Fx%3D1%26y"
        );
    }
}

/// The centred card of the sign-in, sign-up and other account pages.
#[component]
pub fn AuthCard(#[prop(into)] title: String, children: Children) -> impl IntoView {
    view! {
        <Title text=title.clone()/>
        <main class="auth-page">
            <div class="auth-card">
                <a href="/" class="brand">
                    <span class="brand-mark" aria-hidden="true">"◆"</span>
                    " Latchkey"
                </a>
                <h1>{title}</h1>
                {children()}
            </div>
        </main>
    }
}
