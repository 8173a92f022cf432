//! Text for people and cells for spreadsheets.
//!
//! Labels, file names and tensor names come from files that anyone may have
//! written. Human-readable output (text reports, tables, notes and errors on
//! stderr) shows them through [`escape`], so that none of their characters
//! can drive the terminal (escape sequences, a NUL, a carriage return) or
//! reorder and hide the text around them (bidirectional overrides and
//! isolates, zero-width and line-separator characters). Machine outputs
//! (JSON, CSV) keep labels exact; [`spreadsheet_cell`] is the opt-in guard
//! of CSV label cells against formula injection.
//!
//! Columns are padded by [`pad_right`] and [`pad_left`], which take any
//! width (the standard formatter's `{:<width$}` panics above 65,535), and
//! [`column_width`] bounds a column so that one huge label cannot multiply
//! its length by the number of rows of a table.

use std::borrow::Cow;
use std::fmt::Write;
use std::path::Path;

/// The widest column a table pads to, in characters. A longer cell is
/// printed whole and pushes the rest of its line to the right. The value is
/// the largest width the standard formatter accepts, so every table it could
/// print comes out as before.
pub const MAX_COLUMN: usize = u16::MAX as usize;

/// Whether `c` is shown escaped in human-readable output: the C0 controls
/// (NUL to U+001F, so also tab, newline and carriage return), DEL, the C1
/// controls (U+0080 to U+009F), the bidirectional marks, embeddings,
/// overrides and isolates (U+061C, U+200E, U+200F, U+202A to U+202E, U+2066
/// to U+2069), the line and paragraph separators (U+2028, U+2029) and the
/// invisible characters that can make two labels look alike or hide text
/// (U+200B zero-width space, U+2060 to U+2064, the deprecated format
/// characters U+206A to U+206F, U+FEFF, the annotation characters U+FFF9 to
/// U+FFFB).
///
/// The zero-width joiner and non-joiner (U+200C, U+200D), variation
/// selectors and tag characters are left alone: they are parts of emoji and
/// of words in several scripts, and display no text of their own.
pub fn is_escaped(c: char) -> bool {
    matches!(
        c,
        '\u{0}'..='\u{1f}'
            | '\u{7f}'..='\u{9f}'
            | '\u{61c}'
            | '\u{200b}'
            | '\u{200e}'
            | '\u{200f}'
            | '\u{2028}'..='\u{202e}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206f}'
            | '\u{feff}'
            | '\u{fff9}'..='\u{fffb}'
    )
}

/// `s` for a terminal: every character that [`is_escaped`] written as `\t`,
/// `\n`, `\r` or `\u{XX}` (hexadecimal code point), the rest unchanged.
/// Text without such characters is returned as it is (borrowed).
pub fn escape(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_escaped) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if is_escaped(c) => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// A path for a terminal: as `Path::display` writes it, through [`escape`].
pub fn path(p: &Path) -> String {
    escape(&p.display().to_string()).into_owned()
}

/// The width of a column holding `cells`: the longest cell in bytes, at
/// least `min`, at most [`MAX_COLUMN`].
pub fn column_width<'a>(cells: impl IntoIterator<Item = &'a str>, min: usize) -> usize {
    cells.into_iter().map(str::len).max().unwrap_or(0).max(min).min(MAX_COLUMN)
}

/// `s` followed by spaces up to `width` characters (as `{:<width$}`).
pub fn pad_right(s: &str, width: usize) -> String {
    let mut out = String::from(s);
    out.extend(std::iter::repeat_n(' ', width.saturating_sub(s.chars().count())));
    out
}

/// Spaces up to `width` characters, then `s` (as `{:>width$}`).
pub fn pad_left(s: &str, width: usize) -> String {
    let mut out: String = std::iter::repeat_n(' ', width.saturating_sub(s.chars().count())).collect();
    out.push_str(s);
    out
}

/// Whether a spreadsheet reads a cell starting with `c` as a formula (OWASP's
/// list: `=`, `+`, `-`, `@`, tab, carriage return).
fn starts_formula(c: char) -> bool {
    matches!(c, '=' | '+' | '-' | '@' | '\t' | '\r')
}

/// A text label as a CSV cell that spreadsheets show as text: a label that
/// starts with `=`, `+`, `-`, `@`, tab or carriage return, or with `'`, gets
/// one `'` in front; other labels are unchanged. Prefixing labels that start
/// with `'` keeps the mapping one-to-one: removing one leading `'` from a
/// prefixed cell gives the label back.
pub fn spreadsheet_cell(label: &str) -> Cow<'_, str> {
    match label.chars().next() {
        Some(c) if starts_formula(c) || c == '\'' => Cow::Owned(format!("'{label}")),
        _ => Cow::Borrowed(label),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_shows_controls_bidi_and_invisibles_and_keeps_the_rest() {
        assert!(matches!(escape("cat, dog é 猫 👨\u{200d}👩"), Cow::Borrowed(_)));
        assert_eq!(escape("a\tb\nc\rd"), "a\\tb\\nc\\rd");
        assert_eq!(escape("\u{1b}]0;x\u{7}\0"), "\\u{1b}]0;x\\u{7}\\u{0}");
        assert_eq!(escape("\u{7f}\u{85}\u{9b}"), "\\u{7f}\\u{85}\\u{9b}");
        assert_eq!(escape("\u{202e}abc\u{2066}\u{2069}"), "\\u{202e}abc\\u{2066}\\u{2069}");
        assert_eq!(escape("a\u{200b}b\u{feff}\u{2028}"), "a\\u{200b}b\\u{feff}\\u{2028}");
        // Escaped text has nothing left to escape.
        let once = escape("\u{1b}[31m\u{202e}x\n").into_owned();
        assert_eq!(escape(&once), once);
        assert!(!once.chars().any(is_escaped));
    }

    #[test]
    fn every_c0_c1_and_bidi_character_is_escaped() {
        let listed = (0..=0x1f).chain(0x7f..=0x9f).chain(0x202a..=0x202e).chain(0x2066..=0x2069);
        for code in listed.chain([0x61c, 0x200e, 0x200f]) {
            let c = char::from_u32(code).unwrap();
            assert!(is_escaped(c), "{code:#x}");
        }
        for c in ['a', ' ', '\u{a0}', '\u{200c}', '\u{200d}', '\u{fe0f}', 'é', '\\'] {
            assert!(!is_escaped(c), "{:#x}", u32::from(c));
        }
    }

    #[test]
    fn padding_takes_any_width_like_the_formatter_below_its_limit() {
        for s in ["", "ab", "héllo", "猫猫"] {
            for w in [0, 1, 5, 9] {
                assert_eq!(pad_right(s, w), format!("{s:<w$}"));
                assert_eq!(pad_left(s, w), format!("{s:>w$}"));
            }
        }
        assert_eq!(pad_right("x", 70_000).len(), 70_000);
        assert_eq!(pad_left("x", 70_000).chars().last(), Some('x'));
        assert_eq!(column_width(["a", "abc"], 5), 5);
        assert_eq!(column_width(["a", "abcdefg"], 5), 7);
        assert_eq!(column_width([&*"x".repeat(100_000)], 5), MAX_COLUMN);
    }

    #[test]
    fn spreadsheet_cells_prefix_formula_starts_one_to_one() {
        for (label, cell) in [
            ("=1+1", "'=1+1"),
            ("+x", "'+x"),
            ("-1", "'-1"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("\rx", "'\rx"),
            ("'=x", "''=x"),
            ("cat", "cat"),
            ("a=b", "a=b"),
            ("", ""),
        ] {
            assert_eq!(spreadsheet_cell(label), cell, "{label:?}");
            let back = cell.strip_prefix('\'').filter(|_| cell != label).unwrap_or(cell);
            assert_eq!(back, label, "one leading quote off gives the label back");
        }
    }
}
