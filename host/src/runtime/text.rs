//! Plugin text made safe to pass on. Whatever a plugin writes (log messages, failure messages, field
//! errors, Events, status strings, its stderr) ends up in the operator's log lines, in Events and in
//! the cluster's status, where a raw newline would forge a whole log line, an escape sequence would
//! drive the reader's terminal, and a bidirectional override would make the text read differently
//! from what it is. So every such character is escaped, Rust-style (`\n`, `\r`, `\t`, `\u{1b}`), and
//! the text stays on one line. Text that needs no escaping (all honest text) is passed on as is,
//! without a copy.

use std::borrow::Cow;

/// Whether `c` is escaped: control characters (C0, DEL and C1, which include `\n`, `\r`, `\t` and
/// ESC), the Unicode line and paragraph separators, and the bidirectional formatting characters.
pub fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{061c}' | '\u{200e}' | '\u{200f}')
        || ('\u{202a}'..='\u{202e}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if needs_escape(c) => {
            use std::fmt::Write;
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
        c => out.push(c),
    }
}

/// `text` on one line, with every character of [`needs_escape`] escaped.
pub fn escape(text: &str) -> Cow<'_, str> {
    escape_bounded(text, usize::MAX)
}

/// Like [`escape`], and cut to at most `max_bytes` bytes (then ending in `…`, which is not counted);
/// an escape sequence is never cut in half.
pub fn escape_bounded(text: &str, max_bytes: usize) -> Cow<'_, str> {
    let clean = text.len() <= max_bytes && !text.chars().any(needs_escape);
    if clean {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len().min(max_bytes).saturating_add(8));
    let mut piece = String::new();
    for c in text.chars() {
        piece.clear();
        push_escaped(&mut piece, c);
        if out.len() + piece.len() > max_bytes {
            out.push('…');
            break;
        }
        out.push_str(&piece);
    }
    Cow::Owned(out)
}

/// [`escape`] into an owned string, reusing `text` when nothing needed escaping.
pub fn escape_owned(text: String) -> String {
    match escape(&text) {
        Cow::Borrowed(_) => text,
        Cow::Owned(escaped) => escaped,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn honest_text_is_not_copied() {
        let text = "bookie ecs-bookie-2 is ready: ünïcode and \"quotes\" and \\backslashes";
        assert!(matches!(escape(text), Cow::Borrowed(t) if t == text));
    }

    #[test]
    fn a_forged_log_line_stays_on_one_line() {
        let forged = "ok\n{\"level\":\"ERROR\",\"message\":\"forged\"}";
        let escaped = escape(forged);
        assert_eq!(escaped, "ok\\n{\"level\":\"ERROR\",\"message\":\"forged\"}");
        assert!(!escaped.contains('\n'));
    }

    #[test]
    fn control_separator_and_bidi_characters_are_escaped() {
        let cases = [
            ("a\r\nb", "a\\r\\nb"),
            ("a\tb", "a\\tb"),
            ("\u{1b}[31mred", "\\u{1b}[31mred"),
            ("nul\0", "nul\\u{0}"),
            ("del\u{7f}", "del\\u{7f}"),
            ("c1\u{85}\u{9b}", "c1\\u{85}\\u{9b}"),
            ("line\u{2028}para\u{2029}", "line\\u{2028}para\\u{2029}"),
            ("rtl\u{202e}txt.exe", "rtl\\u{202e}txt.exe"),
            ("isolate\u{2066}x\u{2069}", "isolate\\u{2066}x\\u{2069}"),
        ];
        for (raw, want) in cases {
            assert_eq!(escape(raw), want, "{raw:?}");
            assert!(!escape(raw).chars().any(needs_escape), "{raw:?}");
        }
    }

    #[test]
    fn bounded_escaping_cuts_between_sequences() {
        assert_eq!(escape_bounded("abcdef", 4), "abcd…");
        assert_eq!(escape_bounded("ab\u{1b}cd", 4), "ab…");
        assert_eq!(escape_bounded("ab\ncd", 4), "ab\\n…");
        assert_eq!(escape_bounded("ééé", 3), "é…");
        assert_eq!(escape_bounded("short", 100), "short");
        assert_eq!(escape_bounded("", 0), "");
    }

    #[test]
    fn owned_escaping_reuses_clean_strings() {
        let clean = String::from("clean");
        let ptr = clean.as_ptr();
        let out = escape_owned(clean);
        assert_eq!(out.as_ptr(), ptr);
        assert_eq!(escape_owned("x\ny".to_string()), "x\\ny");
    }
}
