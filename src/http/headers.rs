//! Header fields, in the order they arrived. Names compare
//! case-insensitively (RFC 9110 §5.1); values are kept as the bytes were
//! sent, decoded as ISO-8859-1 so that every byte maps to one `char` and
//! back (the same choice PEP 3333 makes for `environ`).

/// An ordered list of header fields. Order and duplicates are kept: a trace
/// shows what was really sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers(Vec<(String, String)>);

impl Headers {
    pub fn new() -> Headers {
        Headers(Vec::new())
    }

    pub fn push(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.0.push((name.into(), value.into()));
    }

    /// The first value of `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name`, in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn count(&self, name: &str) -> usize {
        self.get_all(name).count()
    }

    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Remove every field called `name`.
    pub fn remove(&mut self, name: &str) {
        self.0.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    /// Replace every field called `name` with one field.
    /// Insert a field just before the first field called `before` (at the
    /// end when there is none): for servers that write fields in a fixed order.
    pub fn insert_before(
        &mut self,
        before: &str,
        name: impl Into<String>,
        value: impl Into<String>,
    ) {
        let at = self
            .0
            .iter()
            .position(|(n, _)| n.eq_ignore_ascii_case(before))
            .unwrap_or(self.0.len());
        self.0.insert(at, (name.into(), value.into()));
    }

    /// Insert a field just after the first field called `after` (at the
    /// end when there is none).
    pub fn insert_after(&mut self, after: &str, name: impl Into<String>, value: impl Into<String>) {
        let at = self
            .0
            .iter()
            .position(|(n, _)| n.eq_ignore_ascii_case(after))
            .map_or(self.0.len(), |i| i + 1);
        self.0.insert(at, (name.into(), value.into()));
    }

    /// Change the value of the first field called `name`, where it stands
    /// (added at the end when there is none).
    pub fn set_in_place(&mut self, name: &str, value: impl Into<String>) {
        match self
            .0
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            Some(slot) => slot.1 = value.into(),
            None => self.0.push((name.to_string(), value.into())),
        }
    }

    pub fn set(&mut self, name: &str, value: impl Into<String>) {
        self.remove(name);
        self.push(name, value);
    }

    /// Does the comma-separated list in `name` contain `token` (case-insensitive)?
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.get_all(name)
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }

    /// The options a `Connection` field lists, lower-cased: the names of
    /// fields that belong to this connection only (RFC 9110 §7.6.1).
    pub fn connection_options(&self) -> Vec<String> {
        self.get_all("connection")
            .flat_map(|v| v.split(','))
            .map(|t| t.trim().to_ascii_lowercase())
            .filter(|t| !t.is_empty())
            .collect()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// As owned pairs, for a trace.
    pub fn to_pairs(&self) -> Vec<(String, String)> {
        self.0.clone()
    }

    /// Keep only the fields for which `keep` is true.
    pub fn retain(&mut self, mut keep: impl FnMut(&str, &str) -> bool) {
        self.0.retain(|(n, v)| keep(n, v));
    }
}

impl FromIterator<(String, String)> for Headers {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(iter: I) -> Headers {
        Headers(iter.into_iter().collect())
    }
}

/// Bytes to a string, one `char` per byte (ISO-8859-1).
pub fn latin1(bytes: &[u8]) -> String {
    // The common case: ASCII is already the same text in UTF-8, one copy.
    if bytes.is_ascii()
        && let Ok(text) = std::str::from_utf8(bytes)
    {
        return text.to_owned();
    }
    bytes.iter().map(|&b| b as char).collect()
}

/// A string back to bytes; chars above U+00FF (which no parsed header
/// contains) become `?`.
pub fn latin1_bytes(s: &str) -> Vec<u8> {
    // The common case: ASCII text is its own bytes.
    if s.is_ascii() {
        return s.as_bytes().to_vec();
    }
    s.chars()
        .map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?'))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_compare_case_insensitively() {
        let mut h = Headers::new();
        h.push("Content-Type", "text/html");
        assert_eq!(h.get("content-type"), Some("text/html"));
    }

    #[test]
    fn connection_tokens_are_found_in_lists() {
        let mut h = Headers::new();
        h.push("Connection", "keep-alive, Upgrade");
        assert!(h.has_token("connection", "upgrade"));
        assert!(!h.has_token("connection", "close"));
    }

    #[test]
    fn latin1_round_trips_every_byte() {
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(latin1_bytes(&latin1(&all)), all);
    }
}
