//! Numbers and short texts built without `format!`.
//!
//! Every request `serve` records passes through the framework's steps,
//! each with a summary and a few fields. `format!` runs the whole
//! formatting machinery for each one, about as much work as the rest of
//! a step; these few helpers join pieces with one allocation instead.
//! `["calls ", name, "()"].concat()` reads the same and costs less.

/// `n` in decimal, as `n.to_string()` writes it.
pub fn decimal(n: u64) -> String {
    let mut s = String::with_capacity(20);
    push_decimal(&mut s, n);
    s
}

/// Append `n` in decimal.
pub fn push_decimal(s: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &d in &digits[i..] {
        s.push(char::from(d));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_writes_what_to_string_writes() {
        for n in [0, 7, 10, 200, 404, 65_535, 1_000_000, u64::MAX] {
            assert_eq!(decimal(n), n.to_string());
        }
        let mut s = String::from("status ");
        push_decimal(&mut s, 201);
        assert_eq!(s, "status 201");
    }
}
