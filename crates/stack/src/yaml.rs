//! The YAML file as a tree of nodes that remember where they were written (line and column), so
//! every message about a stack file can point at the exact place.
//!
//! serde-saphyr does the YAML work (anchors, aliases, `<<` merge keys, duplicate keys, budgets
//! against alias bombs); this module only keeps its positions with [`serde_saphyr::Spanned`] and
//! hands the rest of `stack` a small tree it can walk without serde.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, MapAccess, SeqAccess, Visitor};

/// A place in the source, 1-based; `0` when unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Pos {
    pub line: u64,
    pub column: u64,
}

/// One YAML node and where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub pos: Pos,
    pub value: Value,
    /// Byte range of the node's definition in the source (for an alias, the anchored node), used
    /// to keep numbers as written (`1.10` stays `1.10`, not `1.1`).
    span: Option<(usize, usize)>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    String(String),
    Seq(Vec<Node>),
    /// In file order; keys are nodes too so a bad key can be pointed at.
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// The text of a scalar as Compose reads it (`80`, `true`, `1.5`); `None` for maps and lists.
    pub fn scalar_text(&self) -> Option<String> {
        match &self.value {
            Value::Null => Some(String::new()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(f.to_string()),
            Value::String(s) => Some(s.clone()),
            Value::Seq(_) | Value::Map(_) => None,
        }
    }

    /// A node at this one's place holding `value` (for merged maps and lists).
    pub fn with_value(&self, value: Value) -> Node {
        Node {
            pos: self.pos,
            value,
            span: None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
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

    /// The value under `key` in a map node.
    #[cfg(test)]
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|(_, v)| v)
    }

    /// The key node and value under `key` in a map node.
    #[cfg(test)]
    pub fn entry(&self, key: &str) -> Option<(&Node, &Node)> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(k, v)| (k, v))
    }

    /// What kind of node this is, for messages ("a list", "a map").
    pub fn kind(&self) -> &'static str {
        match &self.value {
            Value::Null => "empty",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::String(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a map",
        }
    }
}

/// A YAML syntax error, with its position when the parser gave one.
#[derive(Debug, Clone)]
pub struct YamlError {
    pub pos: Pos,
    pub message: String,
}

/// Parses one YAML document. Merge keys are expanded, aliases replayed, duplicate keys refused.
pub fn parse(source: &str) -> Result<Node, YamlError> {
    let spanned: serde_saphyr::Spanned<Value> = serde_saphyr::from_str(source).map_err(|e| {
        let pos = e
            .location()
            .map(|l| Pos {
                line: l.line(),
                column: l.column(),
            })
            .unwrap_or_default();
        YamlError {
            pos,
            message: first_line(&e.to_string()),
        }
    })?;
    let mut root = Node {
        pos: pos_of(&spanned),
        span: span_of(&spanned),
        value: spanned.value,
    };
    numbers_as_written(&mut root, source);
    Ok(root)
}

/// Replaces every number by the text it was written with, when that text is a plain scalar, and
/// every YAML 1.1 boolean (`yes`, `no`, `on`, `off`, `y`, `n`) by its text.
fn numbers_as_written(node: &mut Node, source: &str) {
    match &mut node.value {
        Value::Int(_) | Value::Float(_) | Value::Bool(_) => {
            let raw = node
                .span
                .and_then(|(start, len)| source.get(start..start + len))
                .map(str::trim)
                .filter(|t| !t.is_empty() && !t.starts_with(['*', '&', '!', '"', '\'']));
            let core_bool =
                |t: &str| matches!(t, "true" | "True" | "TRUE" | "false" | "False" | "FALSE");
            match raw {
                Some(raw) if matches!(node.value, Value::Bool(_)) && core_bool(raw) => {}
                Some(raw) => node.value = Value::String(raw.to_string()),
                None => {}
            }
        }
        Value::Seq(items) => items.iter_mut().for_each(|n| numbers_as_written(n, source)),
        Value::Map(entries) => entries.iter_mut().for_each(|(k, v)| {
            numbers_as_written(k, source);
            numbers_as_written(v, source);
        }),
        _ => {}
    }
}

fn span_of<T>(s: &serde_saphyr::Spanned<T>) -> Option<(usize, usize)> {
    let span = s.defined.span();
    Some((
        usize::try_from(span.byte_offset()?).ok()?,
        usize::try_from(span.byte_len()?).ok()?,
    ))
}

/// serde-saphyr's messages carry a rendered snippet after the first line; callers add their own
/// position, so only the first line is kept.
fn first_line(message: &str) -> String {
    message.lines().next().unwrap_or("").trim().to_string()
}

fn pos_of<T>(s: &serde_saphyr::Spanned<T>) -> Pos {
    Pos {
        line: s.referenced.line(),
        column: s.referenced.column(),
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let spanned = serde_saphyr::Spanned::<Value>::deserialize(d)?;
        Ok(Node {
            pos: pos_of(&spanned),
            span: span_of(&spanned),
            value: spanned.value,
        })
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(i64::try_from(v).map_or(Value::String(v.to_string()), Value::Int))
    }
    fn visit_i128<E>(self, v: i128) -> Result<Value, E> {
        Ok(i64::try_from(v).map_or(Value::String(v.to_string()), Value::Int))
    }
    fn visit_u128<E>(self, v: u128) -> Result<Value, E> {
        Ok(i64::try_from(v).map_or(Value::String(v.to_string()), Value::Int))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_bytes<E>(self, v: &[u8]) -> Result<Value, E> {
        Ok(Value::String(String::from_utf8_lossy(v).into_owned()))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(n) = seq.next_element::<Node>()? {
            items.push(n);
        }
        Ok(Value::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries = Vec::new();
        while let Some((k, v)) = map.next_entry::<Node, Node>()? {
            entries.push((k, v));
        }
        Ok(Value::Map(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_kept_for_keys_and_values() {
        let src = "services:\n  web:\n    image: x\n    privileged: true\n";
        let root = parse(src).unwrap();
        let web = root.get("services").unwrap().get("web").unwrap();
        let (k, v) = web.entry("privileged").unwrap();
        assert_eq!(k.pos, Pos { line: 4, column: 5 });
        assert_eq!(v.value, Value::Bool(true));
        assert_eq!(v.pos.line, 4);
    }

    #[test]
    fn anchors_and_merge_keys_expand() {
        let src = "x-base: &base\n  restart: always\n  image: a\nservices:\n  web:\n    <<: *base\n    image: b\n";
        let root = parse(src).unwrap();
        let web = root.get("services").unwrap().get("web").unwrap();
        assert_eq!(web.get("restart").unwrap().as_str(), Some("always"));
        assert_eq!(web.get("image").unwrap().as_str(), Some("b"));
        assert!(web.get("<<").is_none());
    }

    #[test]
    fn yaml_1_2_booleans_and_numbers_as_written() {
        let src = "a: &n 1.10\nb: no\nN: 007\nc: *n\nd: true\ne: 0x1F\n";
        let root = parse(src).unwrap();
        let text = |k: &str| root.get(k).unwrap().scalar_text().unwrap();
        assert_eq!(text("a"), "1.10");
        assert_eq!(text("b"), "no");
        assert_eq!(text("N"), "007");
        assert_eq!(text("c"), "1.10");
        assert_eq!(root.get("d").unwrap().value, Value::Bool(true));
        assert_eq!(text("e"), "0x1F");
    }

    #[test]
    fn syntax_errors_have_a_position() {
        let err = parse("a: [1, 2\nb: c\n").unwrap_err();
        assert!(err.pos.line > 0, "{err:?}");
    }
}
