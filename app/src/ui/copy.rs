//! A read-only value with a Copy button (URLs, ids). Without JavaScript the
//! value can still be selected by hand; the button appears once hydrated.

use leptos::prelude::*;

#[component]
pub fn CopyField(
    #[prop(into)] label: String,
    #[prop(into)] value: String,
    #[prop(into)] id: String,
) -> impl IntoView {
    let status = RwSignal::new("");
    let to_copy = value.clone();
    let on_copy = move |_| {
        #[cfg(feature = "hydrate")]
        {
            let text = to_copy.clone();
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
        let _ = &to_copy;
    };
    view! {
        <div class="copy-field">
            <label for=id.clone()>{label}</label>
            <div class="copy-row">
                <input id=id type="text" readonly value=value class="mono"/>
                <button type="button" class="button copy-button" on:click=on_copy>
                    "Copy"
                </button>
                <span class="copy-status" role="status" aria-live="polite">
                    {move || status.get()}
                </span>
            </div>
        </div>
    }
}
