//! Output that a record cannot forge.
//!
//! Record text (names, addresses, ids, values of any string field) reaches terminals,
//! JSON files and printable HTML pages. A value holding an escape sequence, a carriage
//! return or line feed, NUL or a bidirectional override could otherwise draw a fake line
//! (`separation_date …: 1999-01-01`) into what a case worker reads, recolour the
//! terminal, or reorder what a citizen sees on a form. Every output goes through one of
//! these functions:
//!
//! * [`text`] for terminal and plain-text output: every C0 control (NUL, ESC, CR, LF,
//!   TAB, …), DEL, every C1 control (U+0080–U+009F), the bidirectional controls
//!   (U+200E, U+200F, U+061C, U+202A–U+202E, U+2066–U+2069) and the line and
//!   paragraph separators (U+2028, U+2029) are written as visible Rust-style escapes,
//!   `\u{1b}`, `\u{202e}`. Everything else, Chinese text included, is left as is.
//! * [`json`] for JSON text already produced by `serde_json` (which escapes C0 controls
//!   but not C1 controls, bidi controls or U+2028/U+2029): those are written as
//!   `\u202e`-style JSON escapes, so the document means exactly the same but shows no
//!   raw control character.
//! * [`html`] for HTML text and attribute values: `& < > " '` become entities and the
//!   characters [`text`] escapes are shown as the same visible escapes.

use std::borrow::Cow;

/// Whether `c` is a character no output may carry raw.
pub fn is_dangerous(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{1f}'
        | '\u{7f}'..='\u{9f}'
        | '\u{61c}'
        | '\u{200e}' | '\u{200f}'
        | '\u{2028}' | '\u{2029}'
        | '\u{202a}'..='\u{202e}'
        | '\u{2066}'..='\u{2069}')
}

/// Plain text with every dangerous character written as a visible `\u{..}` escape.
pub fn text(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_dangerous) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if is_dangerous(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Multi-line text whose line breaks are its own (a diagnostic quoting a rule file):
/// each line kept (a CR ending it dropped), everything dangerous inside a line escaped.
/// Not for text holding record values, whose line feeds must be escaped: use [`text`]
/// on each value.
pub fn lines(s: &str) -> Cow<'_, str> {
    if !s.chars().any(|c| c != '\n' && is_dangerous(c)) {
        return Cow::Borrowed(s);
    }
    let parts: Vec<Cow<'_, str>> = s
        .split('\n')
        .map(|l| text(l.strip_suffix('\r').unwrap_or(l)))
        .collect();
    Cow::Owned(parts.join("\n"))
}

/// JSON text (as `serde_json` writes it) with C1 controls, bidi controls and the line
/// and paragraph separators escaped as `\uXXXX`. Such characters can only occur inside
/// JSON strings, where the escape means the same character: the value is unchanged.
pub fn json(s: &str) -> Cow<'_, str> {
    if !s.chars().any(|c| is_dangerous(c) && c >= '\u{7f}') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        // C0 controls outside strings are JSON whitespace (`\n` of pretty output).
        if is_dangerous(c) && c >= '\u{7f}' {
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Whether a byte buffer of UTF-8 JSON may hold a character [`json`] escapes (a quick
/// test on the bytes: 7F for DEL, and the lead bytes C2 for U+0080–U+009F, D8 for
/// U+061C, E2 for U+2000–U+206F).
pub fn json_may_need(bytes: &[u8]) -> bool {
    memchr::memchr3(0xC2, 0xD8, 0xE2, bytes).is_some() || memchr::memchr(0x7F, bytes).is_some()
}

/// Text for HTML content and attribute values: markup characters as entities, dangerous
/// characters as visible escapes.
pub fn html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if is_dangerous(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_escapes_controls_and_bidi() {
        assert_eq!(text("张三"), "张三");
        assert!(matches!(text("plain"), Cow::Borrowed(_)));
        assert_eq!(
            text("a\u{1b}[2Jb\r\nseparation_date: 1999-01-01"),
            "a\\u{1b}[2Jb\\u{d}\\u{a}separation_date: 1999-01-01"
        );
        assert_eq!(
            text("x\u{202e}y\u{0}z\u{7f}\u{85}"),
            "x\\u{202e}y\\u{0}z\\u{7f}\\u{85}"
        );
        assert_eq!(
            text("\u{2066}\u{2069}\u{200e}\u{200f}"),
            "\\u{2066}\\u{2069}\\u{200e}\\u{200f}"
        );
        assert_eq!(text("\u{2028}\u{61c}\t"), "\\u{2028}\\u{61c}\\u{9}");
        // Punctuation of the same blocks is not touched.
        assert_eq!(text("—…《》"), "—…《》");
    }

    #[test]
    fn lines_keep_the_engines_own_line_breaks() {
        assert_eq!(lines("a\nb\u{1b}\n"), "a\nb\\u{1b}\n");
        assert_eq!(lines("a\r\nb\rc"), "a\nb\\u{d}c");
    }

    #[test]
    fn json_escapes_what_serde_json_leaves() {
        let v = serde_json::json!({"name": "a\u{202e}b\u{1b}c\u{85}\u{2028}"});
        let s = serde_json::to_string_pretty(&v).unwrap();
        let e = json(&s);
        assert!(!e.chars().any(|c| is_dangerous(c) && c != '\n'), "{e}");
        assert!(e.contains("\\u202e") && e.contains("\\u001b") && e.contains("\\u0085"));
        let back: serde_json::Value = serde_json::from_str(&e).unwrap();
        assert_eq!(back, v);
        assert!(json_may_need("\u{202e}".as_bytes()));
        assert!(!json_may_need(b"plain"));
    }

    #[test]
    fn html_escapes_markup_and_controls() {
        assert_eq!(
            html("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(html("a\u{202e}b\u{0}"), "a\\u{202e}b\\u{0}");
    }
}
