//! Timestamps rendered identically on the server and in the browser (no
//! time-zone database in the wasm bundle): `2026-11-23 16:34 UTC`.

pub fn format_time(unix_secs: i64) -> String {
    let days = unix_secs.div_euclid(86_400);
    let secs = unix_secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        secs / 3600,
        (secs % 3600) / 60
    )
}

/// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian calendar).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::format_time;

    #[test]
    fn formats_known_instants() {
        assert_eq!(format_time(0), "1970-01-01 00:00 UTC");
        assert_eq!(format_time(951_782_400), "2000-02-29 00:00 UTC");
        assert_eq!(format_time(1_795_451_640), "2026-11-23 16:34 UTC");
        assert_eq!(format_time(-1), "1969-12-31 23:59 UTC");
    }
}

/// `YYYY-MM-DD` (as sent by `<input type="date">`) to Unix seconds at
/// 00:00 UTC of that day.
pub fn parse_date(s: &str) -> Option<i64> {
    let mut it = s.trim().splitn(3, '-');
    let y: i64 = it.next()?.parse().ok()?;
    let m: i64 = it.next()?.parse().ok()?;
    let d: i64 = it.next()?.parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || !(1970..=9999).contains(&y) {
        return None;
    }
    // Inverse of civil_from_days (Howard Hinnant).
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let (cy, cm, cd) = civil_from_days(days);
    // Refuse dates like 2026-02-31 that would roll over.
    (cy == y && i64::from(cm) == m && i64::from(cd) == d).then_some(days * 86_400)
}

#[cfg(test)]
mod date_tests {
    use super::{format_time, parse_date};

    #[test]
    fn parses_dates_and_refuses_impossible_ones() {
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert_eq!(
            parse_date("2026-11-23").map(format_time).as_deref(),
            Some("2026-11-23 00:00 UTC")
        );
        assert_eq!(
            parse_date("2024-02-29").map(format_time).as_deref(),
            Some("2024-02-29 00:00 UTC")
        );
        for bad in ["", "2026-02-31", "2026-13-01", "x-1-1", "2026-1"] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }
}
