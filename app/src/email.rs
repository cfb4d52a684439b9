//! Email address normalization (SPEC §1): trim, IDNA domain to lowercase
//! punycode, local part kept as typed.

use crate::error::AppError;

const MAX_LOCAL: usize = 64;
const MAX_TOTAL: usize = 254;

/// Returns the normalized address, or a message fit for the email field.
pub fn normalize_email(input: &str) -> Result<String, AppError> {
    let invalid = |msg: &str| AppError::unprocessable("invalid_email", msg).on("email");
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err(invalid("Enter your email address."));
    }
    let Some((local, domain)) = trimmed.rsplit_once('@') else {
        return Err(invalid(
            "An email address needs an @, as in name@example.com.",
        ));
    };
    if local.is_empty() || local.len() > MAX_LOCAL {
        return Err(invalid("The part before the @ must be 1 to 64 characters."));
    }
    if local
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == '@' || c == '<' || c == '>')
    {
        return Err(invalid(
            "The part before the @ contains characters that are not allowed.",
        ));
    }
    let domain = domain.trim_end_matches('.');
    let ascii = idna::domain_to_ascii(domain)
        .map_err(|_| invalid("The part after the @ is not a valid domain name."))?;
    let labels: Vec<&str> = ascii.split('.').collect();
    let label_ok = |l: &&str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    if labels.len() < 2 || !labels.iter().all(label_ok) {
        return Err(invalid("The part after the @ is not a valid domain name."));
    }
    let out = format!("{local}@{ascii}");
    if out.len() > MAX_TOTAL {
        return Err(invalid("That email address is too long."));
    }
    Ok(out)
}

/// The domain part of a normalized address.
pub fn domain_of(normalized: &str) -> &str {
    normalized.rsplit_once('@').map(|(_, d)| d).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_and_lowercases_the_domain_only() {
        assert_eq!(
            normalize_email("  Alice.Smith@Example.COM ").as_deref(),
            Ok("Alice.Smith@example.com")
        );
    }

    #[test]
    fn converts_unicode_domains_to_punycode() {
        assert_eq!(
            normalize_email("jose@bücher.example").as_deref(),
            Ok("jose@xn--bcher-kva.example")
        );
        assert_eq!(
            normalize_email("a@example.com.").as_deref(),
            Ok("a@example.com")
        );
    }

    #[test]
    fn refuses_malformed_addresses_with_a_field() {
        for bad in [
            "",
            "no-at-sign",
            "@example.com",
            "a b@example.com",
            "a@localhost",
            "a@-bad-.com",
            "a@exa mple.com",
            "a@example..com",
        ] {
            let err = normalize_email(bad).expect_err(bad);
            assert_eq!(err.field.as_deref(), Some("email"), "{bad}");
            assert_eq!(err.code, "invalid_email");
        }
    }

    #[test]
    fn domain_of_returns_the_domain() {
        assert_eq!(domain_of("a@b.example"), "b.example");
    }
}
