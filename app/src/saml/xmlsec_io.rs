//! The second layer under `xml_guard`'s signature checks: xmlsec is left
//! with no input callbacks at all, so even a reference the guard missed
//! cannot make it open a URL or a file. xmlsec registers its default
//! callbacks (file, and http/ftp through libxml2) when samael initialises
//! it; samael exposes no per-context setting for the reference URIs it
//! follows, so the callback table itself is emptied, once, after that.
//! Same-document references (`#id`) need no callback.

#![expect(
    unsafe_code,
    reason = "one call into xmlsec1's C API, which samael does not expose"
)]

use std::sync::Once;

unsafe extern "C" {
    /// xmlsec1's `io.h`: clears the whole input callback table, the
    /// compiled-in callbacks included.
    fn xmlSecIOCleanupCallbacks();
}

/// Makes sure xmlsec is initialised and can fetch nothing. Cheap after the
/// first call; called before every verification.
pub fn fetch_nothing() {
    static DONE: Once = Once::new();
    DONE.call_once(|| {
        use samael::crypto::{CertificateDer, Crypto, CryptoProvider};
        // Loading any key initialises xmlsec (once per process); an empty
        // certificate fails right after that, which is all this needs.
        let _ = Crypto::verify_signed_xml("<a/>", &CertificateDer::from(Vec::new()), None);
        // SAFETY: a plain C call with no arguments; xmlsec is initialised
        // above, and verifications only read the table afterwards.
        unsafe { xmlSecIOCleanupCallbacks() };
    });
}
