//! Python's character classes as A1111's regular expressions see them (`str` patterns, Unicode
//! 14 in Python 3.11): `\s`, `\w` (so `\b`), `\d`, and `float` of what `\d` matched.
//!
//! | Python | here | differs from Rust's |
//! | --- | --- | --- |
//! | `\s` | [`is_space`]: Unicode `White_Space` and U+001C..U+001F | `char::is_whitespace` lacks U+001C..U+001F |
//! | `\w` | [`is_word`]: general category L or N, and `_` | `char::is_alphanumeric` takes marks such as U+093F (ि) |
//! | `\d` | [`digit`]: general category Nd (`１`, `٣`) | `char::to_digit` is ASCII only |

use regex::Regex;
use std::sync::OnceLock;

/// Python's `\s` (`str.isspace`).
pub fn is_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Python's `\w`: letters (L*), numbers (N*) and `_`.
pub fn is_word(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphanumeric() || c == '_';
    }
    static WORD: OnceLock<Regex> = OnceLock::new();
    let re = WORD.get_or_init(|| Regex::new(r"^[\p{L}\p{N}]$").expect("a valid pattern"));
    re.is_match(c.encode_utf8(&mut [0; 4]))
}

/// Python's `\d` (general category Nd) and the digit's value.
pub fn digit(c: char) -> Option<u32> {
    if c.is_ascii() {
        return c.to_digit(10);
    }
    static DECIMAL: OnceLock<Regex> = OnceLock::new();
    let re = DECIMAL.get_or_init(|| Regex::new(r"^\p{Nd}$").expect("a valid pattern"));
    let nd = |c: char| re.is_match(c.encode_utf8(&mut [0; 4]));
    if !nd(c) {
        return None;
    }
    // Unicode encodes every decimal digit in runs of ten, 0 to 9 (runs may touch: the
    // mathematical digits are five runs in a row), so the value is the offset in the block mod 10.
    let mut offset = 0;
    let mut code = c as u32;
    while let Some(prev) = code.checked_sub(1).and_then(char::from_u32) {
        if !nd(prev) {
            break;
        }
        offset += 1;
        code -= 1;
    }
    Some(offset % 10)
}

/// `float(s)` for text `\d` and `.` (and a sign) matched: Unicode digits read as Python reads
/// them. `None` where Python raises (`1.2.3`, `.`).
pub fn float(s: &str) -> Option<f64> {
    let mut ascii = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '+' | '-' | '.' => ascii.push(c),
            c => ascii.push(char::from_digit(digit(c)?, 10)?),
        }
    }
    let body = ascii.strip_prefix(['+', '-']).unwrap_or(&ascii);
    let dots = body.matches('.').count();
    if dots > 1 || body == "." || body.is_empty() || body.contains(['+', '-']) {
        return None;
    }
    ascii.parse().ok()
}

/// `s` without Python white space at its end.
pub fn trim_end(s: &str) -> &str {
    s.trim_end_matches(is_space)
}

/// `s` without Python white space at its start.
pub fn trim_start(s: &str) -> &str {
    s.trim_start_matches(is_space)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_are_pythons() {
        // Python 3.11: '\x1f'.isspace() is True, 'ि' (U+093F, a combining vowel sign) is not \w.
        assert!(is_space('\u{1f}') && is_space('\u{3000}') && !is_space('\u{200b}'));
        assert!(is_word('क') && !is_word('\u{93f}') && is_word('_') && is_word('²') && !is_word('-'));
        assert_eq!(digit('１'), Some(1));
        assert_eq!(digit('٣'), Some(3));
        // U+1D7CE..U+1D7FF: five runs of ten mathematical digits; U+1D7D9 is double-struck 1.
        assert_eq!(digit('\u{1d7d9}'), Some(1));
        assert_eq!(digit('²'), None, "a superscript is No, not Nd: not \\d");
        assert_eq!(float("１.５"), Some(1.5));
        assert_eq!(float("-.5"), Some(-0.5));
        assert_eq!(float("1."), Some(1.0));
        assert_eq!(float("1.2.3"), None);
        assert_eq!(float("."), None);
        assert_eq!(float(&"9".repeat(400)), Some(f64::INFINITY));
    }
}
