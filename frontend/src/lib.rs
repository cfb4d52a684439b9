//! The browser entry point. Pages are rendered on the server; this only
//! wakes up the `#[island]` components on them (copy buttons, pending
//! submit buttons, the branding preview).

#![recursion_limit = "256"]

// Links the app crate: its islands are exported from the wasm module,
// though nothing here calls them by name.
use app as _;

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_islands();
    // Tests and styles can tell a page whose islands are live from a
    // server-rendered one.
    if let Some(el) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.document_element())
    {
        let _ = el.set_attribute("data-hydrated", "true");
    }
}
