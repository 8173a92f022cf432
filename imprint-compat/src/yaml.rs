//! Reading YAML the way the reference reads its config files.
//!
//! The reference (`load_config`) removes everything from the first `#` of
//! each line to the end of that line, *including the line break*, and hands
//! the rest to PyYAML's `safe_load`. We do the same, then build a small tree
//! from the event stream of `yaml-rust2` (whose parser is a state machine, not
//! recursive), so that hostile nesting is stopped at [`MAX_DEPTH`] without
//! touching the stack.
//!
//! Plain scalars resolve like PyYAML (YAML 1.1) for the forms our configs use:
//! `~`/`null`/empty are null, `true`/`false`/`yes`/`no`/`on`/`off` (in the
//! usual capitalizations) are booleans, decimal integers are integers, numbers
//! with a `.` (optionally an exponent with a sign) or `.inf`/`.nan` are floats,
//! anything else is a string. Quoted scalars are always strings. Differences
//! from PyYAML, all rejected or typed conservatively: aliases, anchors and
//! explicit tags are errors; duplicate mapping keys are errors (PyYAML keeps
//! the last value); octal/hex/sexagesimal integers and exponent-only floats
//! such as `1e5` are strings (PyYAML: also a string for `1e5`).

use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use crate::error::{CompatError, Result};

/// Deepest nesting of sequences and mappings we accept.
pub const MAX_DEPTH: usize = 64;

/// Largest config text we accept, in bytes.
pub const MAX_CONFIG_BYTES: usize = 16 * 1024 * 1024;

/// A parsed YAML value.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// `null`, `~` or an empty plain scalar.
    Null,
    /// A YAML 1.1 boolean.
    Bool(bool),
    /// A decimal integer.
    Int(i64),
    /// A float (written with a `.`, or `.inf` / `.nan`).
    Float(f64),
    /// Any other scalar.
    Str(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in file order (keys are unique).
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// A short description for error messages: the type and a preview.
    pub fn describe(&self) -> String {
        match self {
            Node::Null => "null".to_owned(),
            Node::Bool(b) => format!("boolean {b}"),
            Node::Int(i) => format!("integer {i}"),
            Node::Float(f) => format!("float {f}"),
            Node::Str(s) => {
                let preview: String = s.chars().take(40).collect();
                if preview.len() < s.len() {
                    format!("string {preview:?}...")
                } else {
                    format!("string {s:?}")
                }
            }
            Node::Seq(v) => format!("list of {} items", v.len()),
            Node::Map(v) => format!("mapping of {} entries", v.len()),
        }
    }

    /// The value rendered compactly (used to name values in errors).
    pub fn render(&self) -> String {
        match self {
            Node::Str(s) => format!("{s:?}"),
            Node::Seq(_) | Node::Map(_) => self.describe(),
            other => other.describe().rsplit(' ').next().unwrap_or_default().to_owned(),
        }
    }
}

/// Removes comments exactly like the reference: for every line that contains a
/// `#`, the line is cut at its first `#`, and the cut also drops the line break
/// (so the next line continues this one). `\r\n` and `\r` count as line breaks
/// (Python's universal newlines).
pub fn strip_comments(text: &str) -> String {
    let normalized = text.replace("\r\n", "\n").replace('\r', "\n");
    let mut out = String::with_capacity(normalized.len());
    for line in normalized.split_inclusive('\n') {
        match line.find('#') {
            Some(pos) => out.push_str(&line[..pos]),
            None => out.push_str(line),
        }
    }
    out
}

/// Decodes bytes as UTF-8, naming the source and the offset on failure.
pub fn decode_utf8<'a>(bytes: &'a [u8], source_name: &str) -> Result<&'a str> {
    if bytes.len() > MAX_CONFIG_BYTES {
        return Err(CompatError::ConfigTooLarge {
            source_name: source_name.to_owned(),
            size: bytes.len(),
            limit: MAX_CONFIG_BYTES,
        });
    }
    std::str::from_utf8(bytes)
        .map_err(|e| CompatError::NotUtf8 { source_name: source_name.to_owned(), offset: e.valid_up_to() })
}

/// Strips comments like the reference and parses the single YAML document.
/// Returns `Ok(None)` for an empty document (PyYAML's `None`).
pub fn parse_config_text(text: &str, source_name: &str) -> Result<Option<Node>> {
    if text.len() > MAX_CONFIG_BYTES {
        return Err(CompatError::ConfigTooLarge {
            source_name: source_name.to_owned(),
            size: text.len(),
            limit: MAX_CONFIG_BYTES,
        });
    }
    parse_yaml(&strip_comments(text), source_name)
}

enum Frame {
    Seq(Vec<Node>),
    Map { entries: Vec<(Node, Node)>, pending_key: Option<Node>, seen: std::collections::HashSet<String> },
}

/// Parses one YAML document (no comment stripping) into a [`Node`].
/// Returns `Ok(None)` when the stream holds no document.
pub fn parse_yaml(text: &str, source_name: &str) -> Result<Option<Node>> {
    let err = |m: &Marker, message: String| CompatError::Yaml {
        source_name: source_name.to_owned(),
        line: m.line(),
        column: m.col() + 1,
        message,
    };
    let mut parser = Parser::new_from_str(text);
    let mut stack: Vec<Frame> = Vec::new();
    let mut root: Option<Node> = None;
    let mut documents = 0usize;
    loop {
        let (event, marker) = parser.next_token().map_err(|e| {
            let m = *e.marker();
            err(&m, e.info().to_owned())
        })?;
        let completed = match event {
            Event::StreamStart | Event::Nothing | Event::DocumentEnd => continue,
            Event::StreamEnd => break,
            Event::DocumentStart => {
                documents += 1;
                if documents > 1 {
                    return Err(err(&marker, "more than one YAML document".to_owned()));
                }
                continue;
            }
            Event::Alias(_) => {
                return Err(err(&marker, "aliases (*name) are not supported in config files".to_owned()));
            }
            Event::Scalar(value, style, anchor, tag) => {
                if anchor != 0 {
                    return Err(err(&marker, "anchors (&name) are not supported in config files".to_owned()));
                }
                if tag.is_some() {
                    return Err(err(&marker, format!("explicit tags are not supported (on {value:?})")));
                }
                resolve_scalar(value, style)
            }
            Event::SequenceStart(anchor, ref tag) | Event::MappingStart(anchor, ref tag) => {
                if anchor != 0 || tag.is_some() {
                    return Err(err(
                        &marker,
                        "anchors and tags are not supported in config files".to_owned(),
                    ));
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(err(&marker, format!("nesting deeper than {MAX_DEPTH} levels")));
                }
                stack.push(if matches!(event, Event::SequenceStart(..)) {
                    Frame::Seq(Vec::new())
                } else {
                    Frame::Map {
                        entries: Vec::new(),
                        pending_key: None,
                        seen: std::collections::HashSet::new(),
                    }
                });
                continue;
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Frame::Seq(items)) => Node::Seq(items),
                _ => return Err(err(&marker, "unbalanced sequence end".to_owned())),
            },
            Event::MappingEnd => match stack.pop() {
                Some(Frame::Map { entries, pending_key: None, .. }) => Node::Map(entries),
                _ => return Err(err(&marker, "unbalanced mapping end".to_owned())),
            },
        };
        match stack.last_mut() {
            None => root = Some(completed),
            Some(Frame::Seq(items)) => items.push(completed),
            Some(Frame::Map { entries, pending_key, seen }) => match pending_key.take() {
                None => {
                    if matches!(completed, Node::Seq(_) | Node::Map(_)) {
                        return Err(err(&marker, "complex mapping keys are not supported".to_owned()));
                    }
                    // Keys are scalars; their Debug text identifies them (O(1) duplicate check).
                    if !seen.insert(format!("{completed:?}")) {
                        return Err(err(&marker, format!("duplicate mapping key {}", completed.render())));
                    }
                    *pending_key = Some(completed);
                }
                Some(key) => entries.push((key, completed)),
            },
        }
    }
    Ok(root)
}

fn resolve_scalar(value: String, style: TScalarStyle) -> Node {
    if style != TScalarStyle::Plain {
        return Node::Str(value);
    }
    match value.as_str() {
        "" | "~" | "null" | "Null" | "NULL" => return Node::Null,
        "true" | "True" | "TRUE" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" | "y" | "Y" => {
            // PyYAML 1.1 does not treat bare y/Y as booleans.
            if value == "y" || value == "Y" {
                return Node::Str(value);
            }
            return Node::Bool(true);
        }
        "false" | "False" | "FALSE" | "no" | "No" | "NO" | "off" | "Off" | "OFF" => return Node::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => return Node::Float(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => return Node::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Node::Float(f64::NAN),
        _ => {}
    }
    if is_decimal_int(&value) {
        let cleaned: String = value.chars().filter(|&c| c != '_').collect();
        return match cleaned.parse::<i64>() {
            Ok(i) => Node::Int(i),
            // Out of i64 range: keep the text, type checks report it.
            Err(_) => Node::Str(value),
        };
    }
    if is_yaml11_float(&value) {
        let cleaned: String = value.chars().filter(|&c| c != '_').collect();
        if let Ok(f) = cleaned.parse::<f64>() {
            return Node::Float(f);
        }
    }
    Node::Str(value)
}

/// `[-+]?(0|[1-9][0-9_]*)`
fn is_decimal_int(s: &str) -> bool {
    let body = s.strip_prefix(['-', '+']).unwrap_or(s);
    match body.as_bytes() {
        [b'0'] => true,
        [first, rest @ ..] => {
            (b'1'..=b'9').contains(first) && rest.iter().all(|&c| c.is_ascii_digit() || c == b'_')
        }
        [] => false,
    }
}

/// PyYAML's float: `[-+]?([0-9][0-9_]*)?\.[0-9_]*([eE][-+][0-9]+)?` (a dot is required).
fn is_yaml11_float(s: &str) -> bool {
    let body = s.strip_prefix(['-', '+']).unwrap_or(s);
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(pos) => (&body[..pos], Some(&body[pos + 1..])),
        None => (body, None),
    };
    let Some(dot) = mantissa.find('.') else { return false };
    let (int_part, frac_part) = (&mantissa[..dot], &mantissa[dot + 1..]);
    let int_ok = int_part.is_empty()
        || (int_part.as_bytes()[0].is_ascii_digit()
            && int_part.bytes().all(|c| c.is_ascii_digit() || c == b'_'));
    let frac_ok = frac_part.bytes().all(|c| c.is_ascii_digit() || c == b'_');
    let has_digit = mantissa.bytes().any(|c| c.is_ascii_digit());
    let exp_ok = match exponent {
        None => true,
        Some(e) => {
            let Some(digits) = e.strip_prefix(['-', '+']) else { return false };
            !digits.is_empty() && digits.bytes().all(|c| c.is_ascii_digit())
        }
    };
    int_ok && frac_ok && has_digit && exp_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Node {
        parse_config_text(s, "test.yaml").unwrap().unwrap()
    }

    #[test]
    fn trailing_commas_and_integer_keys() {
        let n = parse("{\"a\": [1, 2,], \"m\": {0: 0, 10: 1,},}");
        let Node::Map(entries) = n else { panic!("not a map") };
        assert_eq!(entries[0], (Node::Str("a".into()), Node::Seq(vec![Node::Int(1), Node::Int(2)])));
        assert_eq!(
            entries[1].1,
            Node::Map(vec![(Node::Int(0), Node::Int(0)), (Node::Int(10), Node::Int(1))])
        );
    }

    #[test]
    fn comment_cut_joins_lines_like_the_reference() {
        // The reference drops the line break together with the comment.
        assert_eq!(strip_comments("a: [1, # x\n 2]\nb: 3\n"), "a: [1,  2]\nb: 3\n");
        assert_eq!(strip_comments("x\r\ny # c\r\nz"), "x\ny z");
        let n = parse("{\"ks\": [1, # one\n 2, # two\n],}");
        assert_eq!(n, Node::Map(vec![(Node::Str("ks".into()), Node::Seq(vec![Node::Int(1), Node::Int(2)]))]));
    }

    #[test]
    fn scalars_resolve_like_pyyaml() {
        let n = parse("[1, -1, 1.0, 0.5, 1e5, 1.5e+3, true, no, null, \"3\", abc, 010, .inf]");
        let Node::Seq(v) = n else { panic!("not a seq") };
        assert_eq!(v[0], Node::Int(1));
        assert_eq!(v[1], Node::Int(-1));
        assert_eq!(v[2], Node::Float(1.0));
        assert_eq!(v[3], Node::Float(0.5));
        assert_eq!(v[4], Node::Str("1e5".into()));
        assert_eq!(v[5], Node::Float(1500.0));
        assert_eq!(v[6], Node::Bool(true));
        assert_eq!(v[7], Node::Bool(false));
        assert_eq!(v[8], Node::Null);
        assert_eq!(v[9], Node::Str("3".into()));
        assert_eq!(v[10], Node::Str("abc".into()));
        assert_eq!(v[11], Node::Str("010".into()));
        assert_eq!(v[12], Node::Float(f64::INFINITY));
    }

    #[test]
    fn hostile_inputs_are_errors() {
        let deep = "[".repeat(100_000) + &"]".repeat(100_000);
        assert!(matches!(parse_config_text(&deep, "d.yaml"), Err(CompatError::Yaml { .. })));
        let deep_block: String = (0..200).map(|i| format!("{}- \n", " ".repeat(i * 2))).collect();
        assert!(matches!(parse_config_text(&deep_block, "b.yaml"), Err(CompatError::Yaml { .. })));
        assert!(matches!(parse_config_text("a: &x [1]\nb: *x\n", "a.yaml"), Err(CompatError::Yaml { .. })));
        assert!(matches!(parse_config_text("{a: 1, a: 2}", "dup.yaml"), Err(CompatError::Yaml { .. })));
        assert!(matches!(parse_config_text("{a: [1, 2}", "bad.yaml"), Err(CompatError::Yaml { .. })));
        assert!(matches!(parse_config_text("a: 1\n---\nb: 2\n", "two.yaml"), Err(CompatError::Yaml { .. })));
        assert_eq!(parse_config_text("# only a comment\n\n", "e.yaml").unwrap(), None);
        assert!(matches!(decode_utf8(b"a: \xff", "u.yaml"), Err(CompatError::NotUtf8 { offset: 3, .. })));
    }

    #[test]
    fn big_integers_stay_text() {
        assert_eq!(parse("99999999999999999999"), Node::Str("99999999999999999999".into()));
    }
}
