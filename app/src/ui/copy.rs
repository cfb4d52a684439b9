//! A read-only value with a Copy button (URLs, ids). Without JavaScript the
//! value can still be selected by hand; the button works once its island
//! has loaded.

use leptos::prelude::*;

#[component]
pub fn CopyField(
    #[prop(into)] label: String,
    #[prop(into)] value: String,
    #[prop(into)] id: String,
) -> impl IntoView {
    view! {
        <div class="copy-field">
            <label for=id.clone()>{label}</label>
            <div class="copy-row">
                <input id=id type="text" readonly value=value.clone() class="mono"/>
                <CopyButton value/>
            </div>
        </div>
    }
}

/// The button and its announcement: the only part that runs in the browser.
#[island]
fn CopyButton(value: String) -> impl IntoView {
    let status = RwSignal::new("");
    let on_copy = move |_| {
        #[cfg(feature = "hydrate")]
        {
            let text = value.clone();
            leptos::task::spawn_local(async move {
                let ok = match web_sys::window() {
                    Some(w) => {
                        let promise = w.navigator().clipboard().write_text(&text);
                        wasm_bindgen_futures::JsFuture::from(promise).await.is_ok()
                    }
                    None => false,
                };
                status.set(if ok { "Copied" } else { "Press Ctrl+C to copy" });
            });
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = &value;
    };
    view! {
        <button type="button" class="button copy-button" on:click=on_copy>
            "Copy"
        </button>
        <span class="copy-status" role="status" aria-live="polite">
            {move || status.get()}
        </span>
    }
}
