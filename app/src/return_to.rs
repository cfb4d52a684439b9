//! `return_to` handling: only same-origin relative paths are followed, so a
//! crafted link cannot send a user elsewhere after signing in.

/// Returns `raw` when it is a safe local path, otherwise `None`.
pub fn safe_return_to(raw: &str) -> Option<&str> {
    let ok = raw.starts_with('/')
        && !raw.starts_with("//")
        && !raw.starts_with("/\\")
        && raw.len() <= 2048
        && !raw.contains('\\')
        && !raw.chars().any(|c| c.is_control() || c.is_whitespace());
    ok.then_some(raw)
}

/// Where to go after signing in: `return_to` when it is a local path,
/// otherwise the home page (which picks the right console).
pub fn landing_path(return_to: Option<&str>) -> String {
    return_to.and_then(safe_return_to).unwrap_or("/").to_owned()
}

#[cfg(test)]
mod tests {
    use super::safe_return_to;

    #[test]
    fn accepts_local_paths() {
        for ok in ["/", "/o/acme", "/o/acme/members?q=a#top"] {
            assert_eq!(safe_return_to(ok), Some(ok));
        }
    }

    #[test]
    fn refuses_anything_that_can_leave_the_origin() {
        for bad in [
            "",
            "https://evil.example/",
            "//evil.example",
            "/\\evil.example",
            "/a\\b",
            "javascript:alert(1)",
            "/a\nb",
            "/a\tb",
            "evil",
            "/ x",
        ] {
            assert_eq!(safe_return_to(bad), None, "{bad:?}");
        }
    }
}
