//! The HTML page at `GET /`: "HTML for web pages".
//!
//! Every piece of text from the database is *escaped* before it goes into
//! the page: `<` becomes `&lt;`, `&` becomes `&amp;`, quotes become
//! `&quot;` and `&#x27;`. A note titled `<script>alert(1)</script>` then
//! shows as text instead of running in every visitor's browser (stored
//! cross-site scripting). Django and Jinja2 templates escape by default for
//! this reason; here one function does it, and nothing reaches the page
//! without passing through it.
//!
//! Book: "The framework" (book/src/framework.md).

use super::notes::Note;

/// Escape text for HTML element content and quoted attribute values
/// (the five characters Django's `escape` replaces).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

/// The notes list as a whole HTML document.
pub fn notes_page(notes: &[Note]) -> String {
    let mut page = String::from(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>Notes</title>\n</head>\n<body>\n<h1>Notes</h1>\n",
    );
    if notes.is_empty() {
        page.push_str("<p>No notes yet.</p>\n");
    } else {
        page.push_str("<ul>\n");
        for note in notes {
            page.push_str(&format!(
                "<li><a href=\"/notes/{}\">{}</a>: {}</li>\n",
                note.id,
                escape(&note.title),
                escape(&note.body)
            ));
        }
        page.push_str("</ul>\n");
    }
    page.push_str("</body>\n</html>\n");
    page
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_tags_are_escaped_into_text() {
        assert_eq!(
            escape(r#"<script>alert("hi & 'bye'")</script>"#),
            "&lt;script&gt;alert(&quot;hi &amp; &#x27;bye&#x27;&quot;)&lt;/script&gt;"
        );
    }

    #[test]
    fn page_lists_notes_with_links() {
        let page = notes_page(&[Note {
            id: 3,
            title: "<b>bold</b>".into(),
            body: "x".into(),
        }]);
        assert!(page.contains("<title>Notes</title>"));
        assert!(page.contains("<li><a href=\"/notes/3\">&lt;b&gt;bold&lt;/b&gt;</a>: x</li>"));
        assert!(!page.contains("<b>"));
    }
}
