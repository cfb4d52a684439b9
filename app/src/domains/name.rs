//! Domain name normalization and the names Latchkey refuses.

use crate::error::AppError;

fn refuse(msg: impl Into<String>) -> AppError {
    AppError::unprocessable("invalid_domain", msg).on("domain")
}

/// Trim, lowercase, drop a trailing dot, IDNA to punycode; then refuse IP
/// addresses, wildcards, malformed names and public suffixes.
pub fn normalize_domain(input: &str) -> Result<String, AppError> {
    let raw = input.trim().trim_end_matches('.');
    if raw.is_empty() {
        return Err(refuse("Enter a domain name such as example.com."));
    }
    if raw.contains('*') {
        return Err(refuse(
            "Wildcards are not allowed: enter the domain itself, such as example.com.",
        ));
    }
    if raw.contains("://") || raw.contains('/') || raw.contains('@') || raw.contains(':') {
        return Err(refuse(
            "Enter only the domain name, without https://, paths, ports or email addresses.",
        ));
    }
    if raw.parse::<std::net::IpAddr>().is_ok()
        || raw
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok()
    {
        return Err(refuse(
            "IP addresses cannot be verified; enter a domain name.",
        ));
    }
    let ascii = idna::domain_to_ascii(raw)
        .map_err(|_| refuse(format!("“{raw}” is not a valid domain name.")))?;
    // A listed public suffix (com, co.uk, github.io) is refused by name, even
    // a single label, before the shape checks below.
    if psl::suffix(ascii.as_bytes())
        .is_some_and(|s| s.is_known() && s.as_bytes() == ascii.as_bytes())
    {
        return Err(public_suffix(&ascii));
    }
    let labels: Vec<&str> = ascii.split('.').collect();
    let label_ok = |l: &&str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    if labels.len() < 2 || ascii.len() > 253 || !labels.iter().all(label_ok) {
        return Err(refuse(format!("“{raw}” is not a valid domain name.")));
    }
    if labels
        .last()
        .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(refuse(format!("“{raw}” is not a valid domain name.")));
    }
    if psl::domain_str(&ascii).is_none() {
        return Err(public_suffix(&ascii));
    }
    Ok(ascii)
}

fn public_suffix(ascii: &str) -> AppError {
    refuse(format!(
        "“{ascii}” is a public suffix, shared by many owners. Enter a domain you own, such as example.{ascii}."
    ))
}

/// The DNS name holding the proof for `domain`.
pub fn challenge_name(domain: &str) -> String {
    format!("_latchkey-challenge.{domain}")
}

/// The TXT value that proves ownership.
pub fn challenge_value(token: &str) -> String {
    format!("latchkey-verification={token}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_case_dots_space_and_idna() {
        assert_eq!(
            normalize_domain("  Example.COM. ").as_deref(),
            Ok("example.com")
        );
        assert_eq!(
            normalize_domain("Bücher.example").as_deref(),
            Ok("xn--bcher-kva.example")
        );
        assert_eq!(
            normalize_domain("sub.acme.co.uk").as_deref(),
            Ok("sub.acme.co.uk")
        );
    }

    #[test]
    fn refuses_public_suffixes() {
        for suffix in ["com", "co.uk", "github.io", "COM."] {
            let e = normalize_domain(suffix).expect_err(suffix);
            assert!(
                e.message.contains("public suffix") || e.message.contains("not a valid"),
                "{suffix}: {}",
                e.message
            );
            assert_eq!(e.field.as_deref(), Some("domain"));
        }
        assert!(
            normalize_domain("co.uk")
                .expect_err("co.uk")
                .message
                .contains("public suffix")
        );
        assert!(normalize_domain("acme.github.io").is_ok());
    }

    #[test]
    fn refuses_malformed_names_ips_and_wildcards() {
        for bad in [
            "",
            "   ",
            "*.example.com",
            "https://example.com",
            "example.com/path",
            "a@example.com",
            "192.0.2.1",
            "[2001:db8::1]",
            "2001:db8::1",
            "-bad.example.com",
            "exa mple.com",
            "example..com",
            "localhost",
            "1.2.3",
            "example.com:443",
        ] {
            let e = normalize_domain(bad).expect_err(bad);
            assert_eq!(e.code, "invalid_domain", "{bad}");
        }
    }

    #[test]
    fn challenge_record() {
        assert_eq!(
            challenge_name("example.com"),
            "_latchkey-challenge.example.com"
        );
        assert_eq!(challenge_value("abc"), "latchkey-verification=abc");
    }
}
