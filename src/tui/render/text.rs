//! Fitting text into cells: cutting with `…`, wrapping at spaces.

/// `s` cut to `width` characters, with `…` when something was cut (the
/// same cut the plain transcript's detail uses).
pub use crate::trace::export::detail::cut;

/// Words of `s` in lines of at most `width` characters (a longer word is cut).
pub fn wrap(s: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in s.split(' ') {
        let needed = line.chars().count() + usize::from(!line.is_empty()) + word.chars().count();
        if !line.is_empty() && needed > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(&cut(word, width));
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// A duration as a person reads it, exact to the microsecond and with no
/// trailing zeros: `100 ms`, `1.6 s`, `1.25 ms`, `40 µs`.
pub fn duration(ns: u64) -> String {
    let (unit, name) = match ns {
        1_000_000_000.. => (1_000_000_000, "s"),
        1_000_000.. => (1_000_000, "ms"),
        1_000.. => (1_000, "µs"),
        0 => return String::from("0 s"),
        _ => return format!("{ns} ns"),
    };
    let whole = ns / unit;
    // Three decimals, from integers: no float rounding in a snapshot.
    let frac = (ns % unit) / (unit / 1_000);
    let mut s = format!("{whole}.{frac:03}");
    while s.ends_with('0') {
        s.pop();
    }
    if s.ends_with('.') {
        s.pop();
    }
    format!("{s} {name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_without_trailing_zeros() {
        assert_eq!(duration(100_000_000), "100 ms");
        assert_eq!(duration(1_600_000_000), "1.6 s");
        assert_eq!(duration(1_250_000), "1.25 ms");
        assert_eq!(duration(40_000), "40 µs");
        assert_eq!(duration(7), "7 ns");
        assert_eq!(duration(0), "0 s");
        assert_eq!(duration(u64::MAX), "18446744073.709 s");
    }

    #[test]
    fn cut_marks_what_it_left_out() {
        assert_eq!(cut("proxy_pass", 6), "proxy…");
        assert_eq!(cut("pass", 6), "pass");
    }

    #[test]
    fn wrap_breaks_at_spaces() {
        assert_eq!(
            wrap("answered here: 413 (client_max_body_size = 1m)", 20),
            ["answered here: 413", "(client_max_body_si…", "= 1m)"]
        );
    }
}
