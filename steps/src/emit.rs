//! The two writers of a tree: YAML (block style, small mappings and lists of
//! plain values in flow style, scripts as literal blocks) and JSON.
//!
//! A string is written plain only when every YAML reader takes it back as the
//! same string: YAML 1.1 (go-yaml v2 in kubectl, PyYAML) and YAML 1.2 alike, so
//! never `yes`, `on`, `0644`, `1e3`, `~`, nor anything starting with a digit or
//! an indicator. Everything else is double-quoted, or a literal block when it
//! spans lines.

use crate::document::{format_float, Node, Value};
use std::fmt::Write;

/// A flow collection is used only when its line stays within this width.
const WIDTH: usize = 100;

/// The tree as a YAML document (without `---`).
pub fn yaml(node: &Node) -> String {
    let mut out = String::new();
    match &node.value {
        Value::Map(m) if !m.is_empty() => block_map(&mut out, node, 0),
        Value::Seq(s) if !s.is_empty() => block_seq(&mut out, node, 0),
        _ => {
            out.push_str(&inline(node).unwrap_or_default());
            out.push('\n');
        }
    }
    out
}

fn block_map(out: &mut String, node: &Node, indent: usize) {
    let Value::Map(entries) = &node.value else { return };
    for (i, e) in entries.iter().enumerate() {
        if i > 0 {
            pad(out, indent);
        }
        let key = string(&e.key);
        out.push_str(&key);
        out.push(':');
        // no flow style for the document's own top-level structure
        let used = if indent == 0 { WIDTH } else { indent + key.len() + 2 };
        value_after(out, &e.value, used, indent + 2);
    }
}

fn block_seq(out: &mut String, node: &Node, indent: usize) {
    let Value::Seq(items) = &node.value else { return };
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            pad(out, indent);
        }
        out.push('-');
        match &item.value {
            // "- key: value", the rest of the mapping under the first key
            Value::Map(m) if !m.is_empty() && flow(item, indent + 2).is_none() => {
                out.push(' ');
                block_map(out, item, indent + 2);
            }
            _ => value_after(out, item, indent + 2, indent + 2),
        }
    }
}

/// Writes a value after `key:` or `-` (the cursor is just past it), then the newline.
/// `used` is the columns before the value, `inner` the column of nested content.
fn value_after(out: &mut String, v: &Node, used: usize, inner: usize) {
    if let Some(text) = inline(v) {
        out.push(' ');
        out.push_str(&text);
        out.push('\n');
        return;
    }
    if let Some(text) = flow(v, used) {
        out.push(' ');
        out.push_str(&text);
        out.push('\n');
        return;
    }
    match &v.value {
        Value::Str(s) => literal(out, s, inner),
        Value::Map(_) => {
            out.push('\n');
            pad(out, inner);
            block_map(out, v, inner);
        }
        Value::Seq(_) => {
            out.push('\n');
            pad(out, inner);
            block_seq(out, v, inner);
        }
        _ => {}
    }
}

fn pad(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

/// A value on one line: a scalar (not a multi-line string), `{}` or `[]`.
fn inline(v: &Node) -> Option<String> {
    inline_in(v, false)
}

/// The same, in a flow collection (`flow`) or not.
fn inline_in(v: &Node, flow: bool) -> Option<String> {
    Some(match &v.value {
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => yaml_float(*f),
        Value::Str(s) if literal_ok(s) => return None,
        Value::Str(s) => string_in(s, flow),
        Value::Seq(s) if s.is_empty() => "[]".to_string(),
        Value::Map(m) if m.is_empty() => "{}".to_string(),
        Value::Seq(_) | Value::Map(_) => return None,
    })
}

/// A mapping or list of one-line scalars in flow style, if it fits after `used` columns.
fn flow(v: &Node, used: usize) -> Option<String> {
    let mut text = String::new();
    match &v.value {
        Value::Map(m) if !m.is_empty() => {
            text.push('{');
            for (i, e) in m.iter().enumerate() {
                if i > 0 {
                    text.push_str(", ");
                }
                text.push_str(&string_in(&e.key, true));
                text.push_str(": ");
                text.push_str(&flow_scalar(&e.value)?);
            }
            text.push('}');
        }
        Value::Seq(s) if !s.is_empty() => {
            text.push('[');
            for (i, item) in s.iter().enumerate() {
                if i > 0 {
                    text.push_str(", ");
                }
                // a list of mappings reads best as a block, one per line
                if item.as_map().is_some_and(|m| !m.is_empty()) {
                    return None;
                }
                text.push_str(&flow_scalar(item)?);
            }
            text.push(']');
        }
        _ => return None,
    }
    (used + text.len() <= WIDTH).then_some(text)
}

/// A scalar, or a flow collection itself (`{drop: [ALL]}`), within a flow collection.
fn flow_scalar(v: &Node) -> Option<String> {
    inline_in(v, true).or_else(|| flow(v, 0))
}

/// A float that YAML 1.1 readers also take as a float (they want a `.`, and
/// a signed exponent).
fn yaml_float(f: f64) -> String {
    let s = format_float(f);
    match s.split_once('e') {
        Some((m, e)) => {
            let m = if m.contains('.') { m.to_string() } else { format!("{m}.0") };
            let e = if e.starts_with('-') { e.to_string() } else { format!("+{e}") };
            format!("{m}e{e}")
        }
        None if s.contains('.') => s,
        None => format!("{s}.0"),
    }
}

/// A string as a YAML scalar on one line: plain when safe, else double-quoted.
pub fn string(s: &str) -> String {
    string_in(s, false)
}

/// In a flow collection a `:` is never left plain (YAML 1.1 readers differ there).
fn string_in(s: &str, flow: bool) -> String {
    if plain_ok(s) && !(flow && s.contains(':')) {
        s.to_string()
    } else {
        quoted(s)
    }
}

fn plain_ok(s: &str) -> bool {
    let b = s.as_bytes();
    let Some(&first) = b.first() else { return false };
    let start_ok = first.is_ascii_alphabetic()
        || first == b'/'
        || (first == b'-' && b.get(1).is_some_and(|c| c.is_ascii_alphabetic() || *c == b'-'));
    if !start_ok || b.last() == Some(&b' ') || b.last() == Some(&b':') {
        return false;
    }
    let word = s.to_ascii_lowercase();
    if matches!(word.as_str(), "y" | "n" | "yes" | "no" | "true" | "false" | "on" | "off" | "null") {
        return false;
    }
    b.iter().enumerate().all(|(i, &c)| match c {
        b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' => true,
        b'_' | b'.' | b'/' | b'=' | b'+' | b'-' | b'@' | b'%' | b'~' | b'^' | b'(' | b')' | b'$' | b';' => {
            true
        }
        b':' => b.get(i + 1) != Some(&b' '),
        // a word after a blank starts as a word, never as an indicator (`a -b`, `a #b`)
        b' ' => {
            b.get(i + 1).is_some_and(|n| n.is_ascii_alphanumeric() || matches!(n, b'/' | b'.' | b'_' | b'('))
                && b.get(i.wrapping_sub(1)) != Some(&b':')
        }
        _ => false,
    })
}

/// A YAML double-quoted scalar (also valid for YAML 1.1 readers).
fn quoted(s: &str) -> String {
    let mut q = String::with_capacity(s.len() + 2);
    q.push('"');
    for c in s.chars() {
        match c {
            '"' => q.push_str("\\\""),
            '\\' => q.push_str("\\\\"),
            '\n' => q.push_str("\\n"),
            '\t' => q.push_str("\\t"),
            '\r' => q.push_str("\\r"),
            '\0' => q.push_str("\\0"),
            c if needs_escape(c) => {
                let _ = write!(q, "\\u{:04X}", c as u32);
            }
            c => q.push(c),
        }
    }
    q.push('"');
    q
}

/// Characters no YAML scalar may hold raw: C0 and C1 controls, DEL, the line
/// and paragraph separators (line breaks to YAML 1.1), the byte-order mark.
fn needs_escape(c: char) -> bool {
    matches!(c, '\0'..='\x1f' | '\x7f'..='\u{9f}' | '\u{2028}' | '\u{2029}' | '\u{feff}')
}

/// A multi-line string that reads back exactly as a literal block scalar.
fn literal_ok(s: &str) -> bool {
    let body = s.trim_end_matches('\n');
    s.contains('\n')
        && !body.is_empty()
        && !s.chars().any(|c| c != '\n' && c != '\t' && needs_escape(c))
        // a line of blanks only, or a leading tab, is where readers differ
        && body.split('\n').all(|l| !l.starts_with('\t') && (l.is_empty() || !l.trim_matches(' ').is_empty()))
}

/// `|`, `|-` or `|+` (keep no, one or all final newlines), an indentation
/// indicator when the first line starts with a space, then the lines.
fn literal(out: &mut String, s: &str, indent: usize) {
    let body = s.trim_end_matches('\n');
    let newlines = s.len() - body.len();
    out.push_str(" |");
    if body.trim_start_matches('\n').starts_with(' ') {
        out.push('2');
    }
    out.push_str(match newlines {
        0 => "-",
        1 => "",
        _ => "+",
    });
    out.push('\n');
    for line in body.split('\n') {
        if !line.is_empty() {
            pad(out, indent);
            out.push_str(line);
        }
        out.push('\n');
    }
    for _ in 1..newlines {
        out.push('\n');
    }
}

/// The tree as JSON, two spaces of indentation, then a newline.
pub fn json(node: &Node) -> String {
    let mut out = String::new();
    json_value(&mut out, node, 0);
    out.push('\n');
    out
}

fn json_value(out: &mut String, v: &Node, indent: usize) {
    match &v.value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::Float(f) => out.push_str(&format_float(*f)),
        Value::Str(s) => json_string(out, s),
        Value::Seq(s) if s.is_empty() => out.push_str("[]"),
        Value::Map(m) if m.is_empty() => out.push_str("{}"),
        Value::Seq(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                out.push_str(if i > 0 { ",\n" } else { "\n" });
                pad(out, indent + 2);
                json_value(out, item, indent + 2);
            }
            out.push('\n');
            pad(out, indent);
            out.push(']');
        }
        Value::Map(entries) => {
            out.push('{');
            for (i, e) in entries.iter().enumerate() {
                out.push_str(if i > 0 { ",\n" } else { "\n" });
                pad(out, indent + 2);
                json_string(out, &e.key);
                out.push_str(": ");
                json_value(out, &e.value, indent + 2);
            }
            out.push('\n');
            pad(out, indent);
            out.push('}');
        }
    }
}

/// The length in bytes of the tree as compact JSON (no blanks between
/// tokens), as `kubectl` and the API server store an object.
pub fn compact_json_len(node: &Node) -> usize {
    match &node.value {
        Value::Null => 4,
        Value::Bool(b) => {
            if *b {
                4
            } else {
                5
            }
        }
        Value::Int(i) => i.to_string().len(),
        Value::Float(f) => format_float(*f).len(),
        Value::Str(s) => json_string_len(s),
        Value::Seq(items) => {
            2 + items.len().saturating_sub(1) + items.iter().map(compact_json_len).sum::<usize>()
        }
        Value::Map(entries) => {
            2 + entries.len().saturating_sub(1)
                + entries
                    .iter()
                    .map(|e| json_string_len(&e.key) + 1 + compact_json_len(&e.value))
                    .sum::<usize>()
        }
    }
}

fn json_string_len(s: &str) -> usize {
    2 + s
        .chars()
        .map(|c| match c {
            '"' | '\\' | '\n' | '\t' | '\r' => 2,
            c if c < ' ' => 6,
            c => c.len_utf8(),
        })
        .sum::<usize>()
}

fn json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c < ' ' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::{parse, Entry};

    fn map(entries: Vec<(&str, Node)>) -> Node {
        Node::new(Value::Map(
            entries.into_iter().map(|(k, v)| Entry { key: k.to_string(), line: 0, value: v }).collect(),
        ))
    }

    /// Lines are not part of the meaning.
    fn strip(n: &Node) -> Node {
        let value = match &n.value {
            Value::Seq(s) => Value::Seq(s.iter().map(strip).collect()),
            Value::Map(m) => Value::Map(
                m.iter().map(|e| Entry { key: e.key.clone(), line: 0, value: strip(&e.value) }).collect(),
            ),
            // JSON has numbers, not ints and floats
            Value::Float(f) if f.fract() == 0.0 && f.abs() < 1e18 => Value::Int(*f as i128),
            v => v.clone(),
        };
        Node::new(value)
    }

    fn round_trip(n: &Node) {
        let y = yaml(n);
        let back = parse(&y).unwrap_or_else(|e| panic!("{e:?} in\n{y}"));
        assert_eq!(strip(&back), strip(n), "YAML:\n{y}");
        let j = json(n);
        let back = parse(&j).unwrap_or_else(|e| panic!("{e:?} in\n{j}"));
        assert_eq!(strip(&back), strip(n), "JSON:\n{j}");
    }

    const AWKWARD: &[&str] = &[
        "",
        " ",
        "yes",
        "No",
        "ON",
        "y",
        "n",
        "~",
        "null",
        "true",
        "0644",
        "08",
        "1e3",
        "1_000",
        "12:30",
        "2001-12-14",
        ".inf",
        "-.5",
        "+1",
        "-",
        "--",
        "--post-file=/steps/a/out",
        "-c",
        "a: b",
        "a:b",
        "a #b",
        "a#b",
        "#x",
        "[x]",
        "{x}",
        "x, y",
        "*x",
        "&x",
        "!x",
        "|x",
        ">x",
        "%x",
        "@x",
        "`x",
        "'x",
        "\"x",
        "x'y",
        "trailing ",
        " leading",
        "a  b",
        "tab\there",
        "nul\0",
        "bell\x07",
        "del\x7f",
        "nel\u{85}",
        "ls\u{2028}",
        "bom\u{feff}",
        "é",
        "日本",
        "emoji 🦀",
        "back\\slash",
        "<<",
        "=",
        "?x",
        "x?",
        "line\n",
        "two\nlines",
        "two\nlines\n",
        "keep\n\n\n",
        "\nleading newline",
        "  indented\nsecond",
        "blank\n  \nline",
        "\ttab first\nline",
        "crlf\r\nline",
        "trailing spaces  \nline",
        "\n",
        "\n\n",
        "a:\n",
        "echo hi\nexit 3\n",
    ];

    #[test]
    fn strings_read_back_exactly() {
        for s in AWKWARD {
            round_trip(&map(vec![("k", Node::str(*s))]));
            round_trip(&map(vec![("list", Node::new(Value::Seq(vec![Node::str(*s), Node::str("x")])))]));
            round_trip(&map(vec![(s, Node::str("v"))]));
            round_trip(&map(vec![(
                "items",
                Node::new(Value::Seq(vec![map(vec![(s, Node::str(*s)), ("b", Node::str(*s))])])),
            )]));
        }
    }

    #[test]
    fn random_strings_read_back_exactly() {
        const ALPHABET: &[char] = &[
            'a', 'y', 'n', 'o', ' ', ' ', ':', '#', '-', '-', '\n', '\n', '\t', '"', '\'', '0', '1', '.',
            'e', '\\', '{', '}', '[', ']', ',', '&', '*', '!', '|', '>', '%', '@', '`', '~', '?', '<', '=',
            'é', '\u{85}', '\u{2028}', '\r', '\u{7f}', '\u{feff}', '🦀',
        ];
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        for _ in 0..4000 {
            let mut word = || (0..next(10)).map(|_| ALPHABET[next(ALPHABET.len())]).collect::<String>();
            let (a, b, c) = (word(), word(), word());
            round_trip(&map(vec![
                (&a, Node::str(&b)),
                ("flow", map(vec![(&b, Node::str(&c))])),
                ("list", Node::new(Value::Seq(vec![Node::str(&c), Node::str(&a)]))),
                ("deep", Node::new(Value::Seq(vec![map(vec![(&c, Node::str(&a)), ("k", Node::str(&b))])]))),
            ]));
        }
    }

    #[test]
    fn numbers_and_nesting_read_back() {
        let n = map(vec![
            ("i", Node::new(Value::Int(-5))),
            ("big", Node::new(Value::Int(18446744073709551615))),
            ("f", Node::new(Value::Float(0.5))),
            ("whole", Node::new(Value::Float(2.0))),
            ("tiny", Node::new(Value::Float(1e-300))),
            ("huge", Node::new(Value::Float(1e300))),
            ("b", Node::new(Value::Bool(false))),
            ("nil", Node::new(Value::Null)),
            ("empty", Node::new(Value::Map(vec![]))),
            ("none", Node::new(Value::Seq(vec![]))),
            (
                "deep",
                Node::new(Value::Seq(vec![
                    Node::new(Value::Seq(vec![Node::str("x")])),
                    map(vec![("m", map(vec![("n", Node::new(Value::Seq(vec![])))]))]),
                ])),
            ),
        ]);
        round_trip(&n);
    }

    #[test]
    fn what_an_expert_writes() {
        let n = map(vec![
            ("name", Node::str("a")),
            (
                "command",
                Node::new(Value::Seq(vec![Node::str("sh"), Node::str("-c"), Node::str("echo a\necho b\n")])),
            ),
            (
                "volumeMounts",
                Node::new(Value::Seq(vec![map(vec![
                    ("name", Node::str("tools")),
                    ("mountPath", Node::str("/tools")),
                    ("readOnly", Node::new(Value::Bool(true))),
                ])])),
            ),
            ("emptyDir", Node::new(Value::Map(vec![]))),
        ]);
        assert_eq!(
            yaml(&n),
            "name: a\ncommand:\n  - sh\n  - -c\n  - |\n    echo a\n    echo b\nvolumeMounts:\n  \
             - {name: tools, mountPath: /tools, readOnly: true}\nemptyDir: {}\n"
        );
    }

    #[test]
    fn the_compact_length_is_the_compact_json() {
        let n = map(vec![
            ("a", Node::new(Value::Seq(vec![Node::str("x\"y\n\u{1}é"), Node::new(Value::Int(-12))]))),
            ("b", map(vec![("c", Node::new(Value::Bool(false))), ("d", Node::new(Value::Null))])),
            ("e", Node::new(Value::Seq(vec![]))),
            ("f", Node::new(Value::Float(0.5))),
        ]);
        let compact: String = {
            let pretty = json(&n);
            let mut out = String::new();
            let mut in_string = false;
            let mut escaped = false;
            for c in pretty.chars() {
                if in_string {
                    out.push(c);
                    if escaped {
                        escaped = false;
                    } else if c == '\\' {
                        escaped = true;
                    } else if c == '"' {
                        in_string = false;
                    }
                } else if c == '"' {
                    in_string = true;
                    out.push(c);
                } else if !c.is_whitespace() {
                    out.push(c);
                }
            }
            out
        };
        assert_eq!(compact_json_len(&n), compact.len(), "{compact}");
    }

    #[test]
    fn yaml_1_1_floats() {
        assert_eq!(yaml_float(1e300), "1.0e+300");
        assert_eq!(yaml_float(2.5e-7), "2.5e-7");
        assert_eq!(yaml_float(3.0), "3.0");
        assert_eq!(yaml_float(0.25), "0.25");
    }
}
