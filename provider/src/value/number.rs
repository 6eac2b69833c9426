//! cty numbers: arbitrary precision decimals, stored compactly when they fit.

use std::fmt;

/// Longest plain decimal text we accept (digits around the point); cty's numbers are
/// arbitrary precision but nothing a user writes needs more, and it bounds memory.
const MAX_DECIMAL_DIGITS: usize = 1100;

/// A cty number.
///
/// cty numbers are arbitrary-precision; Terraform sends them as a msgpack int when the
/// value is an exact 64-bit integer, as a float64 when it is exactly representable, and
/// otherwise as a string holding the decimal (e.g. `0.1`, `1e400`). Each form is kept as
/// received so that encoding gives Terraform back exactly the value it sent.
/// The representation is normalised, so equal numbers compare equal.
#[derive(Debug, Clone, PartialEq)]
pub struct Number(Repr);

#[derive(Debug, Clone, PartialEq)]
enum Repr {
    /// Any integer that fits an i64.
    Int(i64),
    /// Integers above `i64::MAX` that fit a u64.
    UInt(u64),
    /// Non-integral or beyond 64 bits, exactly this binary float (may be infinite).
    Float(f64),
    /// Exact decimal text, plain notation (no exponent), canonical: no superfluous zeros.
    Decimal(Box<str>),
}

/// How a number reaches the wire.
pub(crate) enum Wire<'a> {
    Int(i64),
    UInt(u64),
    Float(f64),
    Text(&'a str),
}

impl Number {
    /// The number `n`.
    pub fn from_i64(n: i64) -> Number {
        Number(Repr::Int(n))
    }

    /// The number `n`.
    pub fn from_u64(n: u64) -> Number {
        match i64::try_from(n) {
            Ok(i) => Number(Repr::Int(i)),
            Err(_) => Number(Repr::UInt(n)),
        }
    }

    /// The number `x`; `None` for NaN, which cty does not have.
    pub fn from_f64(x: f64) -> Option<Number> {
        if x.is_nan() {
            return None;
        }
        // -2^63 and 2^64 are exact in f64, so these casts are exact inside the bounds.
        if x.fract() == 0.0
            && (-9_223_372_036_854_775_808.0..18_446_744_073_709_551_616.0).contains(&x)
        {
            if x < 9_223_372_036_854_775_808.0 {
                return Some(Number(Repr::Int(x as i64)));
            }
            return Some(Number(Repr::UInt(x as u64)));
        }
        Some(Number(Repr::Float(x)))
    }

    /// Parses a decimal (`-12`, `0.1`, `1.5e300`) or an infinity (`inf`, `-Infinity`),
    /// as cty accepts them in strings. `None` when the text is not a number.
    pub fn parse(text: &str) -> Option<Number> {
        let t = text.trim();
        let (negative, body) = match t.as_bytes().first()? {
            b'-' => (true, &t[1..]),
            b'+' => (false, &t[1..]),
            _ => (false, t),
        };
        if body.eq_ignore_ascii_case("inf") || body.eq_ignore_ascii_case("infinity") {
            return Number::from_f64(if negative {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            });
        }
        let canon = Canonical::parse(negative, body)?;
        if canon.digits.is_empty() {
            return Some(Number(Repr::Int(0)));
        }
        let plain = canon.plain()?;
        if canon.exp >= 0 {
            if let Ok(i) = plain.parse::<i64>() {
                return Some(Number(Repr::Int(i)));
            }
            if let Ok(u) = plain.parse::<u64>() {
                return Some(Number(Repr::UInt(u)));
            }
        }
        // A float only if it is exactly this decimal; otherwise the text is the value.
        let x: f64 = plain.parse().ok()?;
        if x.is_finite() && Canonical::of_f64(x).as_ref() == Some(&canon) {
            return Number::from_f64(x);
        }
        Some(Number(Repr::Decimal(plain.into_boxed_str())))
    }

    /// The number as an i64, if it is an integer in range.
    pub fn as_i64(&self) -> Option<i64> {
        match self.0 {
            Repr::Int(i) => Some(i),
            _ => None,
        }
    }

    /// The number as a u64, if it is a non-negative integer in range.
    pub fn as_u64(&self) -> Option<u64> {
        match self.0 {
            Repr::Int(i) => u64::try_from(i).ok(),
            Repr::UInt(u) => Some(u),
            _ => None,
        }
    }

    /// The nearest f64 (exact for integers up to 2^53 and for numbers sent as floats).
    pub fn as_f64(&self) -> f64 {
        match &self.0 {
            Repr::Int(i) => *i as f64,
            Repr::UInt(u) => *u as f64,
            Repr::Float(x) => *x,
            // Canonical decimal text always parses; infinity for overflow is the nearest f64.
            Repr::Decimal(t) => t.parse().unwrap_or(f64::NAN),
        }
    }

    /// True when the number is a whole number.
    pub fn is_integer(&self) -> bool {
        match &self.0 {
            Repr::Int(_) | Repr::UInt(_) => true,
            Repr::Float(x) => x.is_finite() && x.fract() == 0.0,
            Repr::Decimal(t) => !t.contains('.'),
        }
    }

    pub(crate) fn wire(&self) -> Wire<'_> {
        match &self.0 {
            Repr::Int(i) => Wire::Int(*i),
            Repr::UInt(u) => Wire::UInt(*u),
            Repr::Float(x) => Wire::Float(*x),
            Repr::Decimal(t) => Wire::Text(t),
        }
    }

    /// A JSON number where JSON can hold one exactly, else the exact decimal text as a string
    /// (cty's JSON decoder accepts numbers in strings).
    pub(crate) fn to_json_exact(&self) -> serde_json::Value {
        match &self.0 {
            Repr::Int(i) => (*i).into(),
            Repr::UInt(u) => (*u).into(),
            Repr::Float(x) => match serde_json::Number::from_f64(*x) {
                Some(n) => n.into(),
                None => self.to_string().into(),
            },
            Repr::Decimal(t) => t.to_string().into(),
        }
    }

    /// A JSON number, rounded to the nearest f64 for decimals JSON numbers cannot hold;
    /// infinities as strings.
    pub(crate) fn to_json_lossy(&self) -> serde_json::Value {
        match &self.0 {
            Repr::Decimal(_) => match serde_json::Number::from_f64(self.as_f64()) {
                Some(n) => n.into(),
                None => self.to_json_exact(),
            },
            _ => self.to_json_exact(),
        }
    }
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Repr::Int(i) => write!(f, "{i}"),
            Repr::UInt(u) => write!(f, "{u}"),
            Repr::Float(x) if x.is_infinite() => {
                f.write_str(if *x > 0.0 { "Infinity" } else { "-Infinity" })
            }
            Repr::Float(x) => write!(f, "{x}"),
            Repr::Decimal(t) => f.write_str(t),
        }
    }
}

impl From<i64> for Number {
    fn from(n: i64) -> Number {
        Number::from_i64(n)
    }
}

impl From<i32> for Number {
    fn from(n: i32) -> Number {
        Number::from_i64(n.into())
    }
}

impl From<u64> for Number {
    fn from(n: u64) -> Number {
        Number::from_u64(n)
    }
}

impl From<u32> for Number {
    fn from(n: u32) -> Number {
        Number::from_i64(n.into())
    }
}

/// A decimal as sign, significant digits (no leading or trailing zeros) and a power of ten.
#[derive(Debug, PartialEq)]
struct Canonical {
    negative: bool,
    digits: String,
    exp: i64,
}

impl Canonical {
    /// `digits[.digits][e[+-]digits]`, the sign already split off.
    fn parse(negative: bool, body: &str) -> Option<Canonical> {
        let (mantissa, exp) = match body.find(['e', 'E']) {
            Some(i) => {
                let e = &body[i + 1..];
                let (negative_exp, digits) = match e.as_bytes().first() {
                    Some(b'-') => (true, &e[1..]),
                    Some(b'+') => (false, &e[1..]),
                    _ => (false, e),
                };
                if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                // Anything beyond this is out of range anyway; saturate instead of overflowing.
                let magnitude = digits.parse::<i64>().unwrap_or(1 << 40).min(1 << 40);
                (
                    &body[..i],
                    if negative_exp { -magnitude } else { magnitude },
                )
            }
            None => (body, 0),
        };
        let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        if int.is_empty() && frac.is_empty()
            || !int.bytes().all(|b| b.is_ascii_digit())
            || !frac.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let all = format!("{int}{frac}");
        let trimmed_front = all.trim_start_matches('0');
        let digits = trimmed_front.trim_end_matches('0');
        let exp = exp - frac.len() as i64 + (trimmed_front.len() - digits.len()) as i64;
        Some(Canonical {
            negative: negative && !digits.is_empty(),
            digits: digits.to_owned(),
            exp: if digits.is_empty() { 0 } else { exp },
        })
    }

    /// The exact decimal value of a finite float (Rust prints floats exactly given enough
    /// precision; 1074 fractional digits suffice for every f64).
    fn of_f64(x: f64) -> Option<Canonical> {
        let text = format!("{:.1074}", x.abs());
        Canonical::parse(x < 0.0, &text)
    }

    /// Plain notation without exponent; `None` when absurdly long.
    fn plain(&self) -> Option<String> {
        let len = self.digits.len() as i64;
        let width = if self.exp >= 0 {
            len.saturating_add(self.exp)
        } else {
            len.max(self.exp.saturating_neg()) + 2
        };
        if width > MAX_DECIMAL_DIGITS as i64 {
            return None;
        }
        let mut out = String::with_capacity(width as usize + 1);
        if self.negative {
            out.push('-');
        }
        if self.exp >= 0 {
            out.push_str(&self.digits);
            out.extend(std::iter::repeat_n('0', self.exp as usize));
        } else {
            let point = len + self.exp;
            if point <= 0 {
                out.push_str("0.");
                out.extend(std::iter::repeat_n('0', (-point) as usize));
                out.push_str(&self.digits);
            } else {
                out.push_str(&self.digits[..point as usize]);
                out.push('.');
                out.push_str(&self.digits[point as usize..]);
            }
        }
        Some(out)
    }
}
