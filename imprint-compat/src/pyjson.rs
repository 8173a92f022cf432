//! Text exactly as CPython's `json.dumps(obj, sort_keys=True)` writes it
//! (default separators `", "` and `": "`, `ensure_ascii=True`), for the
//! value shapes that occur in the reference's combinations.
//!
//! The reference's record id is the MD5 of that text, so every byte matters:
//! floats use Python's `repr` (`1.0`, `0.1`, `1e-05`, `1e+16`), integer dict
//! keys become strings but are sorted by their integer value (Python sorts
//! the items before converting keys), and non-ASCII characters are written as
//! `\uXXXX` escapes (surrogate pairs above U+FFFF).

use std::fmt::Write as _;

/// A JSON value with Python's key and number semantics.
#[derive(Debug, Clone, PartialEq)]
pub enum PyJson {
    /// Python `None`.
    Null,
    /// Python `bool`.
    Bool(bool),
    /// Python `int`.
    Int(i64),
    /// Python `float`.
    Float(f64),
    /// Python `str`.
    Str(String),
    /// Python `list` or `tuple` (both are written as JSON arrays).
    List(Vec<PyJson>),
    /// Python `dict` with `str` keys, in insertion order.
    StrDict(Vec<(String, PyJson)>),
    /// Python `dict` with `int` keys (written as strings, sorted numerically).
    IntDict(Vec<(i64, PyJson)>),
}

impl PyJson {
    /// `json.dumps(self, sort_keys=True)`.
    pub fn dumps_sorted(&self) -> String {
        let mut out = String::new();
        self.write(&mut out);
        out
    }

    /// `json.dumps(self, indent=indent)` (insertion order kept, as
    /// `json.dump(record, f, indent=4)` writes the reference's records).
    pub fn dumps_indent(&self, indent: usize) -> String {
        let mut out = String::new();
        self.write_indent(&mut out, indent, 0);
        out
    }

    fn write_indent(&self, out: &mut String, indent: usize, level: usize) {
        let newline = |out: &mut String, level: usize| {
            out.push('\n');
            out.push_str(&" ".repeat(indent * level));
        };
        match self {
            PyJson::List(items) if !items.is_empty() => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    newline(out, level + 1);
                    item.write_indent(out, indent, level + 1);
                }
                newline(out, level);
                out.push(']');
            }
            PyJson::StrDict(entries) if !entries.is_empty() => {
                out.push('{');
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    newline(out, level + 1);
                    write_py_str(out, k);
                    out.push_str(": ");
                    v.write_indent(out, indent, level + 1);
                }
                newline(out, level);
                out.push('}');
            }
            PyJson::IntDict(entries) if !entries.is_empty() => {
                let as_str =
                    PyJson::StrDict(entries.iter().map(|(k, v)| (k.to_string(), v.clone())).collect());
                as_str.write_indent(out, indent, level);
            }
            other => other.write(out),
        }
    }

    fn write(&self, out: &mut String) {
        match self {
            PyJson::Null => out.push_str("null"),
            PyJson::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            PyJson::Int(i) => {
                let _ = write!(out, "{i}");
            }
            PyJson::Float(f) => out.push_str(&py_float_repr(*f)),
            PyJson::Str(s) => write_py_str(out, s),
            PyJson::List(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    item.write(out);
                }
                out.push(']');
            }
            PyJson::StrDict(entries) => {
                let mut sorted: Vec<&(String, PyJson)> = entries.iter().collect();
                // Python compares str by code point, which is the order of UTF-8 bytes.
                sorted.sort_by(|a, b| a.0.cmp(&b.0));
                write_dict(out, sorted.into_iter().map(|(k, v)| (k.clone(), v)));
            }
            PyJson::IntDict(entries) => {
                let mut sorted: Vec<&(i64, PyJson)> = entries.iter().collect();
                sorted.sort_by_key(|e| e.0);
                write_dict(out, sorted.into_iter().map(|(k, v)| (k.to_string(), v)));
            }
        }
    }
}

fn write_dict<'a>(out: &mut String, entries: impl Iterator<Item = (String, &'a PyJson)>) {
    out.push('{');
    for (i, (k, v)) in entries.enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_py_str(out, &k);
        out.push_str(": ");
        v.write(out);
    }
    out.push('}');
}

/// Writes a JSON string literal like Python's `json` with `ensure_ascii=True`.
pub fn write_py_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Python's `repr(float)` as used by `json.dumps` (`NaN`, `Infinity`,
/// `-Infinity` for the non-finite values, as Python's json writes them).
pub fn py_float_repr(x: f64) -> String {
    if x.is_nan() {
        return "NaN".to_owned();
    }
    if x.is_infinite() {
        return if x > 0.0 { "Infinity".to_owned() } else { "-Infinity".to_owned() };
    }
    if x == 0.0 {
        return if x.is_sign_negative() { "-0.0".to_owned() } else { "0.0".to_owned() };
    }
    // Rust's `{:e}` gives the shortest round-trip digits, like Python's repr.
    let sci = format!("{:e}", x.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if x < 0.0 { "-" } else { "" };
    let decpt = exp + 1; // value = 0.DIGITS * 10^decpt
    let n = digits.len() as i32;
    let body = if -4 < decpt && decpt <= 16 {
        if decpt <= 0 {
            format!("0.{}{}", "0".repeat((-decpt) as usize), digits)
        } else if decpt >= n {
            format!("{}{}.0", digits, "0".repeat((decpt - n) as usize))
        } else {
            format!("{}.{}", &digits[..decpt as usize], &digits[decpt as usize..])
        }
    } else {
        let mant = if n == 1 { digits.clone() } else { format!("{}.{}", &digits[..1], &digits[1..]) };
        let e = decpt - 1;
        format!("{mant}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs())
    };
    format!("{sign}{body}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_repr_matches_python() {
        // Expected strings from CPython 3.11 `repr(float)`.
        let cases = [
            (1.0, "1.0"),
            (0.1, "0.1"),
            (0.95, "0.95"),
            (1e-5, "1e-05"),
            (0.0001, "0.0001"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (123456.789, "123456.789"),
            (-2.5e-10, "-2.5e-10"),
            (1.2345678901234567e20, "1.2345678901234567e+20"),
            (0.0, "0.0"),
            (f64::NAN, "NaN"),
        ];
        for (x, want) in cases {
            assert_eq!(py_float_repr(x), want, "repr({x})");
        }
    }

    #[test]
    fn dumps_sorted_matches_python() {
        // json.dumps({"b": [1, 1.0], "a": {10: 0, 2: 1}, "é": "x\n\u{1F600}"}, sort_keys=True)
        let v = PyJson::StrDict(vec![
            ("b".into(), PyJson::List(vec![PyJson::Int(1), PyJson::Float(1.0)])),
            ("a".into(), PyJson::IntDict(vec![(10, PyJson::Int(0)), (2, PyJson::Int(1))])),
            ("\u{e9}".into(), PyJson::Str("x\n\u{1F600}".into())),
        ]);
        assert_eq!(
            PyJson::StrDict(vec![
                ("b".into(), PyJson::List(vec![PyJson::Int(1)])),
                ("a".into(), PyJson::List(vec![]))
            ])
            .dumps_indent(4),
            "{\n    \"b\": [\n        1\n    ],\n    \"a\": []\n}"
        );
        assert_eq!(
            v.dumps_sorted(),
            r#"{"a": {"2": 1, "10": 0}, "b": [1, 1.0], "\u00e9": "x\n\ud83d\ude00"}"#
        );
    }
}
