//! Random identifiers and tokens from `rand`'s thread-local CSPRNG
//! (ChaCha12, seeded and periodically reseeded from the operating system).
//! Drawing from `OsRng` directly cost one `getrandom` system call per
//! character: about a hundred per SSO sign-in.

use rand::distributions::{Alphanumeric, DistString};
use rand::{Rng, RngCore};

const LOWER_ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// `len` characters of `[a-z0-9]`: ids that appear in URLs and are easy to
/// read out loud (about 5.17 bits each).
pub fn lower_alnum(len: usize) -> String {
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|_| LOWER_ALNUM[rng.gen_range(0..LOWER_ALNUM.len())] as char)
        .collect()
}

/// `len` characters of `[A-Za-z0-9]` (about 5.95 bits each), for secrets.
pub fn alnum(len: usize) -> String {
    Alphanumeric.sample_string(&mut rand::thread_rng(), len)
}

pub fn bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    rand::thread_rng().fill_bytes(&mut out);
    out
}

/// A prefixed id such as `usr_…`; 20 characters carry ~103 bits.
pub fn id(prefix: &str) -> String {
    format!("{prefix}_{}", lower_alnum(20))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_prefix_length_and_alphabet() {
        let a = id("usr");
        assert!(a.starts_with("usr_"));
        assert_eq!(a.len(), 24);
        assert!(a[4..].bytes().all(|b| LOWER_ALNUM.contains(&b)));
        assert_ne!(a, id("usr"));
    }

    #[test]
    fn alnum_is_alphanumeric() {
        let s = alnum(40);
        assert_eq!(s.len(), 40);
        assert!(s.chars().all(|c| c.is_ascii_alphanumeric()));
    }
}
