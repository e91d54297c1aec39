//! Fitting text into cells: cutting with `…`, wrapping at spaces.

/// `s` cut to `width` characters, with `…` when something was cut.
pub fn cut(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        return s.to_string();
    }
    let mut out: String = s.chars().take(width.saturating_sub(1)).collect();
    if width > 0 {
        out.push('…');
    }
    out
}

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

#[cfg(test)]
mod tests {
    use super::*;

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
