//! The little JSON the error bodies need, written by hand.

/// Appends `text` to `out` as a JSON string, quotes included (RFC 8259:
/// `"` and `\` escaped, control characters as `\n`-style or `\u00XX`).
pub(crate) fn push_string(out: &mut String, text: &str) {
    out.push('"');
    // Runs that need no escape are copied whole: every byte to escape is
    // ASCII, so the cuts between runs fall on character boundaries.
    let mut run_start = 0;
    for (at, byte) in text.bytes().enumerate() {
        let escaped = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0C => "\\f",
            byte if byte < 0x20 => {
                out.push_str(&text[run_start..at]);
                out.push_str(&format!("\\u{:04x}", byte));
                run_start = at + 1;
                continue;
            }
            _ => continue,
        };
        out.push_str(&text[run_start..at]);
        out.push_str(escaped);
        run_start = at + 1;
    }
    out.push_str(&text[run_start..]);
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_json_requires() {
        let mut out = String::new();
        push_string(&mut out, "a\"b\\c\nd\u{1}é");
        assert_eq!(out, r#""a\"b\\c\nd\u0001é""#);
    }
}
