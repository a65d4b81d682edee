//! The document as a tree: every node knows the line it starts on, mappings
//! keep their order, and plain scalars are resolved as Kubernetes reads YAML
//! (`kubectl` and the API server go through go-yaml v2: YAML 1.1 booleans such
//! as `yes` and `on`, octal `0644`, `0x1F`, `1_000`), so that the JSON we write
//! means what the YAML the user wrote means to Kubernetes.
//!
//! Unknown fields are just more entries of a mapping: the tree holds whatever
//! the user wrote, newer than any schema, and the writers ([`crate::emit`]) put
//! it out again unchanged in meaning.

use saphyr_parser::{Event, Parser, ScalarStyle, Tag};
use std::collections::HashMap;

/// A node of the tree and the line (1-based; 0 for nodes `steps` made) it starts on.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub line: usize,
    pub value: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<Entry>),
}

/// One `key: value` of a mapping. Keys are strings, as in every Kubernetes
/// object (a key `8080:` is the string "8080", as kubectl makes it).
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: String,
    pub line: usize,
    pub value: Node,
}

/// A problem in the text, at a line.
#[derive(Debug, PartialEq)]
pub struct SyntaxError {
    pub line: usize,
    pub what: String,
}

/// Deeper than this is not a pod spec (and would make the writers recurse far).
const MAX_DEPTH: usize = 128;
/// Aliases may not expand the document beyond this many nodes ("billion laughs").
const MAX_NODES: usize = 1_000_000;

impl Node {
    pub fn new(value: Value) -> Node {
        Node { line: 0, value }
    }

    pub fn str(s: impl Into<String>) -> Node {
        Node::new(Value::Str(s.into()))
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[Entry]> {
        match &self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Seq(s) => Some(s),
            _ => None,
        }
    }

    /// The entry `key` of a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?.iter().find(|e| e.key == key).map(|e| &e.value)
    }

    /// The scalar as text, as a user would read it (`30`, `1.5`, `10m`).
    pub fn scalar_text(&self) -> Option<String> {
        match &self.value {
            Value::Str(s) => Some(s.clone()),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(format_float(*f)),
            Value::Bool(b) => Some(b.to_string()),
            Value::Null => None,
            Value::Seq(_) | Value::Map(_) => None,
        }
    }

    fn count(&self) -> usize {
        match &self.value {
            Value::Seq(s) => 1 + s.iter().map(Node::count).sum::<usize>(),
            Value::Map(m) => 1 + m.iter().map(|e| e.value.count()).sum::<usize>(),
            _ => 1,
        }
    }
}

/// What kind of value a node holds, for messages ("expected a list, found a string").
pub fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Int(_) => "a number",
        Value::Float(_) => "a number",
        Value::Str(_) => "a string",
        Value::Seq(_) => "a list",
        Value::Map(_) => "a mapping",
    }
}

/// A float as go's JSON encoding would write it: shortest round-trip digits.
pub fn format_float(f: f64) -> String {
    let a = f.abs();
    if a != 0.0 && !(1e-6..1e21).contains(&a) {
        format!("{f:e}")
    } else {
        format!("{f}")
    }
}

/// Parses one YAML document into a tree. An empty document is `Null`.
pub fn parse(text: &str) -> Result<Node, SyntaxError> {
    let mut b =
        Builder { stack: Vec::new(), anchors: HashMap::new(), nodes: 0, root: None, docs: 0, doc_line: 0 };
    let mut parser = Parser::new_from_str(text);
    while let Some(ev) = parser.next_event() {
        let (ev, span) = ev.map_err(|e| scan_error(text, e.marker().line(), e.info()))?;
        let line = span.start.line();
        b.event(ev, line)?;
    }
    Ok(b.root.unwrap_or(Node { line: 1, value: Value::Null }))
}

/// The parser's error, but a tab used as indentation is told on its own line
/// (the parser may see it on the line before).
fn scan_error(text: &str, line: usize, info: &str) -> SyntaxError {
    if info.contains("tab") {
        let indented = |l: &str| l.chars().take_while(|c| c.is_whitespace()).any(|c| c == '\t');
        if let Some(at) = text.split('\n').enumerate().skip(line.saturating_sub(1)).find(|(_, l)| indented(l))
        {
            return SyntaxError {
                line: at.0 + 1,
                what: "a tab used as indentation (YAML indents with spaces)".into(),
            };
        }
    }
    SyntaxError { line, what: info.to_string() }
}

enum Frame {
    Seq { line: usize, anchor: usize, items: Vec<Node> },
    Map { line: usize, anchor: usize, entries: Vec<Entry>, merges: Vec<Node>, key: Option<(Node, bool)> },
}

struct Builder {
    stack: Vec<Frame>,
    anchors: HashMap<usize, Node>,
    nodes: usize,
    root: Option<Node>,
    docs: usize,
    /// The line where the current document starts.
    doc_line: usize,
}

fn err<T>(line: usize, what: impl Into<String>) -> Result<T, SyntaxError> {
    Err(SyntaxError { line, what: what.into() })
}

impl Builder {
    fn event(&mut self, ev: Event<'_>, line: usize) -> Result<(), SyntaxError> {
        match ev {
            Event::DocumentStart(_) => {
                self.docs += 1;
                self.doc_line = line;
            }
            Event::Scalar(text, style, anchor, tag) => {
                let plain = style == ScalarStyle::Plain;
                let value = resolve(&text, plain, tag.as_deref(), line)?;
                self.finish(Node { line, value }, anchor, plain && &*text == "<<")?;
            }
            Event::SequenceStart(anchor, tag) => {
                check_collection_tag(tag.as_deref(), "seq", line)?;
                self.push(Frame::Seq { line, anchor, items: Vec::new() }, line)?;
            }
            Event::MappingStart(anchor, tag) => {
                check_collection_tag(tag.as_deref(), "map", line)?;
                self.push(
                    Frame::Map { line, anchor, entries: Vec::new(), merges: Vec::new(), key: None },
                    line,
                )?;
            }
            Event::SequenceEnd => {
                if let Some(Frame::Seq { line, anchor, items }) = self.stack.pop() {
                    self.finish(Node { line, value: Value::Seq(items) }, anchor, false)?;
                }
            }
            Event::MappingEnd => {
                if let Some(Frame::Map { line, anchor, entries, merges, .. }) = self.stack.pop() {
                    let entries = merge(entries, merges);
                    self.finish(Node { line, value: Value::Map(entries) }, anchor, false)?;
                }
            }
            Event::Alias(id) => {
                let Some(node) = self.anchors.get(&id) else {
                    return err(line, "an alias to an unknown anchor");
                };
                let mut node = node.clone();
                self.nodes += node.count();
                if self.nodes > MAX_NODES {
                    return err(line, "aliases expand the document beyond a million nodes");
                }
                node.line = line;
                self.finish(node, 0, false)?;
            }
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentEnd => {}
        }
        Ok(())
    }

    fn push(&mut self, frame: Frame, line: usize) -> Result<(), SyntaxError> {
        if self.stack.len() >= MAX_DEPTH {
            return err(line, format!("nested more than {MAX_DEPTH} levels deep"));
        }
        self.stack.push(frame);
        Ok(())
    }

    /// A complete node: the next item of the collection being built, or the root.
    fn finish(&mut self, node: Node, anchor: usize, merge_key: bool) -> Result<(), SyntaxError> {
        self.nodes += 1;
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            // an empty document after the first (a trailing `---`) is nothing, as to kubectl
            None if self.docs > 1 && node.value == Value::Null => {}
            None if self.docs > 1 => {
                return err(self.doc_line, "a second YAML document: give one document per file")
            }
            None => self.root = Some(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { entries, merges, key, .. }) => match key.take() {
                None => *key = Some((node, merge_key)),
                Some((k, true)) => {
                    let ok = match &node.value {
                        Value::Map(_) => true,
                        Value::Seq(s) => s.iter().all(|n| n.as_map().is_some()),
                        _ => false,
                    };
                    if !ok {
                        return err(k.line, "a merge key '<<' takes a mapping or a list of mappings");
                    }
                    merges.push(node);
                }
                Some((k, false)) => {
                    let name = key_text(&k)?;
                    if let Some(first) = entries.iter().find(|e| e.key == name) {
                        return err(k.line, format!("duplicate key '{name}' (first at line {})", first.line));
                    }
                    entries.push(Entry { key: name, line: k.line, value: node });
                }
            },
        }
        Ok(())
    }
}

/// go-yaml's merge: explicit keys win, then the merged mappings in order.
fn merge(mut entries: Vec<Entry>, merges: Vec<Node>) -> Vec<Entry> {
    for m in merges {
        let maps: Vec<Node> = match m.value {
            Value::Seq(s) => s,
            _ => vec![m],
        };
        for map in maps {
            if let Value::Map(more) = map.value {
                for e in more {
                    if !entries.iter().any(|x| x.key == e.key) {
                        entries.push(e);
                    }
                }
            }
        }
    }
    entries
}

fn key_text(k: &Node) -> Result<String, SyntaxError> {
    match &k.value {
        Value::Null => Ok("null".to_string()),
        Value::Seq(_) | Value::Map(_) => {
            err(k.line, "a mapping key must be a plain value, not a list or mapping")
        }
        _ => Ok(k.scalar_text().unwrap_or_default()),
    }
}

fn check_collection_tag(tag: Option<&Tag>, want: &str, line: usize) -> Result<(), SyntaxError> {
    match tag {
        None => Ok(()),
        Some(t) if t.is_yaml_core_schema() && t.suffix == want => Ok(()),
        Some(t) => err(line, format!("unsupported tag '{t}'")),
    }
}

/// The value of a scalar: quoted and block scalars are strings; plain ones are
/// resolved by go-yaml v2's rules; a core tag (`!!str 5`) says what it is.
fn resolve(text: &str, plain: bool, tag: Option<&Tag>, line: usize) -> Result<Value, SyntaxError> {
    if let Some(t) = tag {
        if !t.is_yaml_core_schema() {
            return err(line, format!("unsupported tag '{t}'"));
        }
        let v = resolve_plain(text);
        let ok = match (t.suffix.as_str(), &v) {
            ("str", _) => return Ok(Value::Str(text.to_string())),
            ("int", Value::Int(_)) | ("bool", Value::Bool(_)) | ("null", Value::Null) => true,
            ("float", Value::Int(i)) => return Ok(Value::Float(*i as f64)),
            ("float", Value::Float(_)) => true,
            _ => false,
        };
        if !ok {
            return err(line, format!("'{text}' is not a valid !!{}", t.suffix));
        }
        return finite(v, text, line);
    }
    if !plain {
        return Ok(Value::Str(text.to_string()));
    }
    finite(resolve_plain(text), text, line)
}

fn finite(v: Value, text: &str, line: usize) -> Result<Value, SyntaxError> {
    match v {
        Value::Float(f) if !f.is_finite() => {
            err(line, format!("'{text}' is not a finite number (a Kubernetes object is JSON)"))
        }
        v => Ok(v),
    }
}

/// go-yaml v2's `resolve` for an untagged plain scalar.
pub fn resolve_plain(s: &str) -> Value {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" | "true" | "True" | "TRUE" => {
            return Value::Bool(true)
        }
        "n" | "N" | "no" | "No" | "NO" | "off" | "Off" | "OFF" | "false" | "False" | "FALSE" => {
            return Value::Bool(false)
        }
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => return Value::Float(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => return Value::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Value::Float(f64::NAN),
        _ => {}
    }
    if !s.starts_with(|c: char| c.is_ascii_digit() || matches!(c, '+' | '-' | '.')) {
        return Value::Str(s.to_string());
    }
    let plain: String = s.chars().filter(|&c| c != '_').collect();
    if let Some(i) = go_parse_int(&plain) {
        return Value::Int(i);
    }
    if is_yaml_float(&plain) {
        if let Ok(f) = plain.parse::<f64>() {
            return Value::Float(f);
        }
    }
    Value::Str(s.to_string())
}

/// Go's `strconv.ParseInt(s, 0, 64)`, then `ParseUint`: a sign, then `0x`, `0o`,
/// `0b` or a leading `0` (octal) or decimal digits; within int64 or uint64.
fn go_parse_int(s: &str) -> Option<i128> {
    let (neg, rest) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = rest.to_ascii_lowercase();
    let (radix, digits) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, &lower[1..])
    } else {
        (10, lower.as_str())
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let mag = u128::from_str_radix(digits, radix).ok()?;
    if neg {
        (mag <= 1u128 << 63).then(|| -(mag as i128))
    } else {
        (mag <= u128::from(u64::MAX)).then_some(mag as i128)
    }
}

/// go-yaml's `yamlStyleFloat`: `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`.
fn is_yaml_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'-' | b'+')));
    let digits = |i: &mut usize| {
        let start = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i - start
    };
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            digits(&mut i);
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scalar(s: &str) -> Value {
        parse(&format!("k: {s}\n")).unwrap().get("k").unwrap().value.clone()
    }

    #[test]
    fn scalars_resolve_as_kubernetes_reads_them() {
        assert_eq!(scalar("yes"), Value::Bool(true));
        assert_eq!(scalar("Off"), Value::Bool(false));
        assert_eq!(scalar("y"), Value::Bool(true));
        assert_eq!(scalar("'yes'"), Value::Str("yes".into()));
        assert_eq!(scalar("~"), Value::Null);
        assert_eq!(scalar(""), Value::Null);
        assert_eq!(scalar("0644"), Value::Int(420));
        assert_eq!(scalar("0x1F"), Value::Int(31));
        assert_eq!(scalar("0o17"), Value::Int(15));
        assert_eq!(scalar("0b101"), Value::Int(5));
        assert_eq!(scalar("-12"), Value::Int(-12));
        assert_eq!(scalar("+7"), Value::Int(7));
        assert_eq!(scalar("1_000"), Value::Int(1000));
        assert_eq!(scalar("08"), Value::Float(8.0));
        assert_eq!(scalar("1.5"), Value::Float(1.5));
        assert_eq!(scalar(".5"), Value::Float(0.5));
        assert_eq!(scalar("1e3"), Value::Float(1000.0));
        assert_eq!(scalar("18446744073709551615"), Value::Int(18446744073709551615));
        assert_eq!(scalar("18446744073709551616"), Value::Float(18446744073709551616.0));
        assert_eq!(scalar("500m"), Value::Str("500m".into()));
        assert_eq!(scalar("1Gi"), Value::Str("1Gi".into()));
        assert_eq!(scalar("2001-12-14"), Value::Str("2001-12-14".into()));
        assert_eq!(scalar("1:30"), Value::Str("1:30".into()));
        assert_eq!(scalar("!!str 5"), Value::Str("5".into()));
        assert_eq!(scalar("!!float 5"), Value::Float(5.0));
        assert_eq!(scalar("\"0644\""), Value::Str("0644".into()));
    }

    #[test]
    fn lines_of_nodes_and_keys() {
        let d = parse("a: 1\nb:\n  - x\n  - {c: d}\n").unwrap();
        let b = d.get("b").unwrap();
        assert_eq!(b.as_map(), None);
        let items = b.as_seq().unwrap();
        assert_eq!(items[0].line, 3);
        assert_eq!(items[1].line, 4);
        assert_eq!(d.as_map().unwrap()[1].line, 2);
    }

    #[test]
    fn errors_with_lines() {
        assert_eq!(
            parse("a: 1\na: 2\n").unwrap_err(),
            SyntaxError { line: 2, what: "duplicate key 'a' (first at line 1)".into() }
        );
        assert_eq!(parse("a: .inf\n").unwrap_err().line, 1);
        assert_eq!(parse("a: 1\n---\nb: 2\n").unwrap_err().line, 2);
        // a trailing `---` (and comments) is no second document
        assert_eq!(parse("a: 1\n---\n# end\n").unwrap(), parse("a: 1\n").unwrap());
        let tab = parse("a:\n  - b\n\t- c\n").unwrap_err();
        assert_eq!(
            tab,
            SyntaxError { line: 3, what: "a tab used as indentation (YAML indents with spaces)".into() }
        );
        assert_eq!(parse("a: !foo x\n").unwrap_err().what, "unsupported tag '!foo'");
        let e = parse("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(e.line >= 1, "{e:?}");
        assert_eq!(parse("a:\n  b: 1\n c: 2\n").unwrap_err().line, 3);
    }

    #[test]
    fn anchors_aliases_and_merge_keys() {
        let d = parse("base: &b {x: 1, z: 2}\nk:\n  <<: *b\n  z: 3\n").unwrap();
        let k = d.get("k").unwrap();
        let keys: Vec<_> =
            k.as_map().unwrap().iter().map(|e| (e.key.as_str(), e.value.value.clone())).collect();
        assert_eq!(keys, [("z", Value::Int(3)), ("x", Value::Int(1))]);
        let laughs = "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n\
                      c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n\
                      e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n";
        assert!(parse(laughs).unwrap_err().what.contains("million"));
    }

    #[test]
    fn deep_nesting_is_refused() {
        let deep = "[".repeat(1000) + &"]".repeat(1000);
        assert_eq!(parse(&deep).unwrap_err().line, 1);
        let deep = "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
        assert_eq!(parse(&deep).unwrap_err().what, format!("nested more than {MAX_DEPTH} levels deep"));
    }

    #[test]
    fn non_string_keys_become_strings() {
        // as kubectl makes them: `on:` is the key "true" there too
        let d = parse("8080: a\non: b\n0644: c\n").unwrap();
        let keys: Vec<_> = d.as_map().unwrap().iter().map(|e| e.key.clone()).collect();
        assert_eq!(keys, ["8080", "true", "420"]);
    }
}
