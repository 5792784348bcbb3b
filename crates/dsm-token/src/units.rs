//! Amounts as people write them: exact decimal text with a token's decimal places
//! ([`TokenPolicy::decimals`](crate::TokenPolicy::decimals)). The protocol only ever sees
//! base units; these two functions are the one place that converts, with integer
//! arithmetic only, and never rounds: text with more places than the token has is refused.

use dsm_core::chain::Amount;
use thiserror::Error;

/// The most decimal places a policy may have (10^18 fits a u128 with room to spare).
pub const MAX_DECIMALS: u32 = 18;

/// Why a text is not an amount of a token.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum UnitsError {
    /// Not digits with at most one decimal point (digits on both sides of it).
    #[error("write digits, with a decimal point if the token has decimals, like 250 or 1.50")]
    NotANumber,
    /// A minus sign.
    #[error("amounts are positive")]
    Negative,
    /// Zero.
    #[error("it must be more than zero")]
    Zero,
    /// More decimal places than the token has (rounding would change the amount).
    #[error("this token has {0} decimal places; more are not rounded but refused")]
    TooPrecise(u32),
    /// Over 2^128 − 1 base units.
    #[error("too large: at most 340282366920938463463374607431768211455 base units")]
    TooLarge,
    /// The decimals asked for are over [`MAX_DECIMALS`].
    #[error("a token has at most {MAX_DECIMALS} decimal places")]
    Decimals,
}

/// `amount` base units as decimal text with exactly `decimals` places: 150 with 2 places
/// is "1.50", 5 is "0.05"; with 0 places the plain integer. Decimals over
/// [`MAX_DECIMALS`] are shown as base units (a policy never has them).
pub fn format_units(amount: Amount, decimals: u32) -> String {
    let digits = amount.0.to_string();
    if decimals == 0 || decimals > MAX_DECIMALS {
        return digits;
    }
    let d = decimals as usize;
    let padded = format!("{digits:0>width$}", width = d + 1);
    let (whole, frac) = padded.split_at(padded.len() - d);
    format!("{whole}.{frac}")
}

/// Parses decimal text (`_` allowed between digits, surrounding spaces ignored) as a
/// positive amount of a token with `decimals` places: "1.5" with 2 places is 150 base
/// units. Refuses rather than rounds.
pub fn parse_units(text: &str, decimals: u32) -> Result<Amount, UnitsError> {
    if decimals > MAX_DECIMALS {
        return Err(UnitsError::Decimals);
    }
    let t = text.trim().replace('_', "");
    if t.starts_with('-') {
        return Err(UnitsError::Negative);
    }
    let (whole, frac) = match t.split_once('.') {
        Some((w, f)) => (w, f),
        None => (t.as_str(), ""),
    };
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !digits(frac) || (t.contains('.') && frac.is_empty()) {
        return Err(UnitsError::NotANumber);
    }
    // Trailing zeros past the token's places change nothing ("1.500" of a 2-place token).
    let frac = frac.trim_end_matches('0');
    if frac.len() > decimals as usize {
        return Err(UnitsError::TooPrecise(decimals));
    }
    let scale = 10u128.pow(decimals);
    let whole: u128 = whole.parse().map_err(|_| UnitsError::TooLarge)?;
    let frac_units: u128 = if frac.is_empty() {
        0
    } else {
        let f: u128 = frac.parse().map_err(|_| UnitsError::NotANumber)?;
        f * 10u128.pow(decimals - frac.len() as u32)
    };
    let v = whole
        .checked_mul(scale)
        .and_then(|w| w.checked_add(frac_units))
        .ok_or(UnitsError::TooLarge)?;
    if v == 0 {
        return Err(UnitsError::Zero);
    }
    Ok(Amount(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_with_the_tokens_places() {
        assert_eq!(format_units(Amount(150), 2), "1.50");
        assert_eq!(format_units(Amount(5), 2), "0.05");
        assert_eq!(format_units(Amount(0), 3), "0.000");
        assert_eq!(format_units(Amount(150), 0), "150");
        assert_eq!(
            format_units(Amount(u128::MAX), 18),
            "340282366920938463463.374607431768211455"
        );
    }

    #[test]
    fn parses_exactly_and_refuses_rather_than_rounds() {
        assert_eq!(parse_units("1.50", 2), Ok(Amount(150)));
        assert_eq!(parse_units("1.5", 2), Ok(Amount(150)));
        assert_eq!(parse_units("1.500", 2), Ok(Amount(150)));
        assert_eq!(parse_units(" 1_000 ", 2), Ok(Amount(100_000)));
        assert_eq!(parse_units("0.01", 2), Ok(Amount(1)));
        assert_eq!(parse_units("250", 0), Ok(Amount(250)));
        assert_eq!(parse_units("1.505", 2), Err(UnitsError::TooPrecise(2)));
        assert_eq!(parse_units("1.5", 0), Err(UnitsError::TooPrecise(0)));
        assert_eq!(parse_units("0.001", 2), Err(UnitsError::TooPrecise(2)));
        assert_eq!(parse_units("-1", 2), Err(UnitsError::Negative));
        assert_eq!(parse_units("0", 2), Err(UnitsError::Zero));
        assert_eq!(parse_units("0.00", 2), Err(UnitsError::Zero));
        for bad in ["", ".5", "1.", "1.2.3", "1e3", "+1", "0x10", "1,5", "½"] {
            assert_eq!(parse_units(bad, 2), Err(UnitsError::NotANumber), "{bad:?}");
        }
        assert_eq!(
            parse_units("340282366920938463463374607431768211455", 0),
            Ok(Amount(u128::MAX))
        );
        assert_eq!(
            parse_units("340282366920938463463374607431768211456", 0),
            Err(UnitsError::TooLarge)
        );
        assert_eq!(
            parse_units("340282366920938463464", 18),
            Err(UnitsError::TooLarge)
        );
        assert_eq!(parse_units("1", 19), Err(UnitsError::Decimals));
    }

    #[test]
    fn every_amount_round_trips_through_its_text() {
        for decimals in [0, 1, 2, 8, 18] {
            for v in [1u128, 9, 10, 99, 100, 12_345, 10u128.pow(20) + 7, u128::MAX] {
                let text = format_units(Amount(v), decimals);
                assert_eq!(parse_units(&text, decimals), Ok(Amount(v)), "{text}");
            }
        }
    }
}
