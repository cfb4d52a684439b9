//! Form building blocks: labelled fields with their error next to them, a
//! form-level error, and a submit button that shows progress.

use crate::error::AppError;
use leptos::prelude::*;

/// A labelled input. `error` holds the message for this field, if any.
#[component]
pub fn Field(
    #[prop(into)] label: String,
    #[prop(into)] name: String,
    #[prop(into, default = "text".into())] input_type: String,
    #[prop(into, optional)] autocomplete: Option<String>,
    #[prop(into, optional)] value: Option<String>,
    #[prop(into, optional)] hint: Option<String>,
    #[prop(optional)] required: bool,
    #[prop(into)] error: Signal<Option<String>>,
) -> impl IntoView {
    let id = format!("field-{name}");
    let err_id = format!("{id}-error");
    let hint_id = format!("{id}-hint");
    let described = {
        let err_id = err_id.clone();
        let hint_id = hint_id.clone();
        let has_hint = hint.is_some();
        move || {
            let mut ids = Vec::new();
            if has_hint {
                ids.push(hint_id.clone());
            }
            if error.get().is_some() {
                ids.push(err_id.clone());
            }
            (!ids.is_empty()).then(|| ids.join(" "))
        }
    };
    view! {
        <div class="field" class:has-error=move || error.get().is_some()>
            <label for=id.clone()>{label}</label>
            <input
                id=id
                name=name
                type=input_type
                autocomplete=autocomplete
                value=value
                required=required
                aria-invalid=move || error.get().is_some().then_some("true")
                aria-describedby=described
                // Forms post natively and come back rendered with their
                // errors: the browser focuses the first field that has one.
                autofocus=move || error.get().is_some()
            />
            {hint.map(|h| view! { <p class="field-hint" id=hint_id>{h}</p> })}
            {move || {
                error.get().map(|msg| view! { <p class="field-error" id=err_id.clone() role="alert">{msg}</p> })
            }}
        </div>
    }
}

/// The error of a form submission that concerns no single listed field.
#[component]
pub fn FormError(
    #[prop(into)] error: Signal<Option<AppError>>,
    /// Fields rendered with their own message; errors on them are not repeated.
    #[prop(optional)]
    fields: &'static [&'static str],
) -> impl IntoView {
    move || {
        error
            .get()
            .filter(|e| e.field.as_deref().is_none_or(|f| !fields.contains(&f)))
            .map(|e| view! { <p class="form-error" role="alert">{e.message}</p> })
    }
}

/// A submit button that says the form is being sent once clicked, and
/// refuses a second click meanwhile. Forms post natively (they work without
/// JavaScript); only this button is an island.
#[component]
pub fn SubmitButton(
    #[prop(into)] label: String,
    #[prop(into)] pending_label: String,
    #[prop(into, default = "button primary".into())] class: String,
) -> impl IntoView {
    view! { <PendingSubmit label pending_label class/> }
}

#[island]
fn PendingSubmit(label: String, pending_label: String, class: String) -> impl IntoView {
    let pending = RwSignal::new(false);
    let on_click = move |ev: leptos::ev::MouseEvent| {
        if pending.get_untracked() {
            ev.prevent_default();
        } else if form_will_send(&ev) {
            pending.set(true);
        }
    };
    view! {
        <button
            type="submit"
            class=class
            on:click=on_click
            aria-disabled=move || pending.get().then_some("true")
            aria-busy=move || pending.get().then_some("true")
        >
            {move || if pending.get() { pending_label.clone() } else { label.clone() }}
        </button>
    }
}

/// Whether the browser will send the clicked button's form: an invalid one
/// shows its own message instead and must not look pending.
#[cfg(feature = "hydrate")]
fn form_will_send(ev: &leptos::ev::MouseEvent) -> bool {
    use wasm_bindgen::JsCast;
    ev.current_target()
        .and_then(|t| t.dyn_into::<web_sys::HtmlButtonElement>().ok())
        .and_then(|b| b.form())
        .is_none_or(|f| f.check_validity())
}

/// Clicks happen only in the browser.
#[cfg(not(feature = "hydrate"))]
fn form_will_send(_: &leptos::ev::MouseEvent) -> bool {
    false
}
