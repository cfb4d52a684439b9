//! RFC 6238 TOTP (HMAC-SHA1, 6 digits, 30 s), the parameters every
//! authenticator app supports, with a ±1 step window for clock skew.

use hmac::{Hmac, Mac};
use sha1::Sha1;

pub const PERIOD_SECS: i64 = 30;
const DIGITS: u32 = 6;
/// 160 bits, the size RFC 4226 recommends.
pub const SECRET_LEN: usize = 20;

/// The code for time step `step` (RFC 4226 dynamic truncation).
pub fn code_at(secret: &[u8], step: u64) -> u32 {
    // HMAC accepts keys of any length, so this cannot fail.
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(secret) else {
        return u32::MAX;
    };
    mac.update(&step.to_be_bytes());
    let hash = mac.finalize().into_bytes();
    let offset = usize::from(hash[19] & 0x0f);
    let bin = (u32::from(hash[offset]) & 0x7f) << 24
        | u32::from(hash[offset + 1]) << 16
        | u32::from(hash[offset + 2]) << 8
        | u32::from(hash[offset + 3]);
    bin % 10u32.pow(DIGITS)
}

pub fn step_of(unix_secs: i64) -> i64 {
    unix_secs.div_euclid(PERIOD_SECS)
}

/// The step `code` matches around `now`, skipping steps at or before
/// `after` (a code already used). Only six ASCII digits are considered.
pub fn verify(secret: &[u8], code: &str, now: i64, after: Option<i64>) -> Option<i64> {
    let code = code.trim();
    if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let wanted: u32 = code.parse().ok()?;
    let current = step_of(now);
    (current - 1..=current + 1)
        .filter(|s| *s >= 0 && after.is_none_or(|a| *s > a))
        .find(|s| code_at(secret, *s as u64) == wanted)
}

pub fn base32(secret: &[u8]) -> String {
    data_encoding::BASE32_NOPAD.encode(secret)
}

/// The `otpauth://` URI authenticator apps scan.
pub fn otpauth_uri(secret: &[u8], account: &str) -> String {
    let label: String =
        url::form_urlencoded::byte_serialize(format!("Latchkey:{account}").as_bytes())
            .collect::<String>()
            .replace('+', "%20");
    format!(
        "otpauth://totp/{label}?secret={}&issuer=Latchkey&algorithm=SHA1&digits={DIGITS}&period={PERIOD_SECS}",
        base32(secret)
    )
}

/// The URI as an SVG QR code, generated here so no third party sees it.
pub fn qr_svg(uri: &str) -> Option<String> {
    let code = qrcode::QrCode::new(uri.as_bytes()).ok()?;
    Some(
        code.render::<qrcode::render::svg::Color<'_>>()
            .min_dimensions(180, 180)
            .quiet_zone(true)
            .build(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B, SHA-1 secret, truncated to six digits.
    #[test]
    fn rfc_6238_vectors() {
        let secret = b"12345678901234567890";
        for (time, eight_digits) in [
            (59i64, 94_287_082u32),
            (1_111_111_109, 7_081_804),
            (1_111_111_111, 14_050_471),
            (1_234_567_890, 89_005_924),
            (2_000_000_000, 69_279_037),
        ] {
            assert_eq!(
                code_at(secret, step_of(time) as u64),
                eight_digits % 1_000_000,
                "t={time}"
            );
        }
    }

    #[test]
    fn verify_accepts_one_step_of_skew_and_never_a_used_step() {
        let secret = b"12345678901234567890";
        let now = 1_111_111_111;
        let code = format!("{:06}", code_at(secret, step_of(now - 30) as u64));
        assert_eq!(verify(secret, &code, now, None), Some(step_of(now) - 1));
        assert_eq!(verify(secret, &code, now, Some(step_of(now) - 1)), None);
        let stale = format!("{:06}", code_at(secret, step_of(now - 90) as u64));
        assert_eq!(verify(secret, &stale, now, None), None);
        assert_eq!(verify(secret, "12345", now, None), None);
        assert_eq!(verify(secret, "abcdef", now, None), None);
    }

    #[test]
    fn uri_and_qr() {
        let uri = otpauth_uri(b"12345678901234567890", "ada lovelace@example.com");
        assert!(uri.starts_with("otpauth://totp/Latchkey%3Aada%20lovelace%40example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&"));
        assert!(qr_svg(&uri).is_some_and(|s| s.contains("<svg")));
    }
}
