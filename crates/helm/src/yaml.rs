//! Helm's data formats: YAML as go-yaml v2 reads and writes it, JSON as
//! Go's `encoding/json` writes it, and TOML as BurntSushi's encoder writes
//! it.
//!
//! Helm goes through JSON everywhere (sigs.k8s.io/yaml): `toYaml` encodes
//! the value to JSON, reads that JSON back as YAML and emits it, so numbers
//! are formatted twice (`1234567.5` → `1.2345675e+06`) and map keys come out
//! in go-yaml's "natural" order (`a9` before `a10`). Reading values is the
//! reverse: YAML 1.1 (`yes` and `on` are booleans, `0755` is octal, the key
//! `n` is `false`) → JSON → Go values with every number a `json.Number`.

use std::collections::{BTreeMap, HashMap};

use crate::funcs::conv::parse_go_int;
use crate::template::Value;
use crate::template::gofmt::format_float;

// ---------------------------------------------------------------------------
// JSON (encoding/json)
// ---------------------------------------------------------------------------

/// How `encoding/json` writes a float64: `%f`-style between 1e-6 and 1e21,
/// exponent form outside (`1e+21`, `1e-7`).
pub fn go_json_float(f: f64) -> Result<String, String> {
    if f.is_nan() {
        return Err("json: unsupported value: NaN".into());
    }
    if f.is_infinite() {
        return Err(format!(
            "json: unsupported value: {}",
            if f > 0.0 { "+Inf" } else { "-Inf" }
        ));
    }
    if f == 0.0 {
        return Ok(if f.is_sign_negative() { "-0" } else { "0" }.into());
    }
    let a = f.abs();
    if !(1e-6..1e21).contains(&a) {
        let s = format_float(f, 'e', None);
        // e-07 → e-7
        if let Some((m, e)) = s.split_once("e-0") {
            return Ok(format!("{m}e-{e}"));
        }
        return Ok(s);
    }
    Ok(format_float(f, 'f', None))
}

fn json_string(out: &mut String, s: &str, html: bool) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '<' | '>' | '&' if html => out.push_str(&format!("\\u{:04x}", c as u32)),
            '\u{2028}' | '\u{2029}' => out.push_str(&format!("\\u{:04x}", c as u32)),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Is this the text of a valid JSON number (what `json.Number` must hold)?
fn valid_json_number(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if b.get(i) == Some(&b'-') {
        i += 1;
    }
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => {
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1
            }
        }
        _ => return false,
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        if !b.get(i).is_some_and(u8::is_ascii_digit) {
            return false;
        }
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if !b.get(i).is_some_and(u8::is_ascii_digit) {
            return false;
        }
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1
        }
    }
    i == b.len()
}

/// The text `encoding/json` writes for a number-like value.
fn json_number_text(v: &Value) -> Result<Option<String>, String> {
    Ok(match v {
        Value::Int(i) | Value::Int64(i) => Some(i.to_string()),
        Value::Float(f) => Some(go_json_float(*f)?),
        Value::Number(n) => {
            if n.is_empty() {
                Some("0".into())
            } else if valid_json_number(n) {
                Some(n.to_string())
            } else {
                return Err(format!(
                    "json: invalid number literal {}",
                    crate::template::gofmt::quote(n)
                ));
            }
        }
        _ => None,
    })
}

fn plain_data(v: &Value) -> Option<Value> {
    match v {
        Value::Time(_) => Some(Value::from_json(&v.to_json())),
        Value::Object(o) => Some(o.to_data()),
        Value::Bytes(b) => {
            use base64::Engine;
            Some(Value::str(
                base64::engine::general_purpose::STANDARD.encode(b),
            ))
        }
        _ => None,
    }
}

fn write_json(
    out: &mut String,
    v: &Value,
    html: bool,
    indent: Option<&str>,
    depth: usize,
) -> Result<(), String> {
    if let Some(d) = plain_data(v) {
        return write_json(out, &d, html, indent, depth);
    }
    let nl = |out: &mut String, d: usize| {
        if let Some(ind) = indent {
            out.push('\n');
            for _ in 0..d {
                out.push_str(ind);
            }
        }
    };
    if let Some(n) = json_number_text(v)? {
        out.push_str(&n);
        return Ok(());
    }
    match v {
        Value::Nil => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::String(s) => json_string(out, s, html),
        Value::List(items, _) => {
            out.push('[');
            for (i, it) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                nl(out, depth + 1);
                write_json(out, it, html, indent, depth + 1)?;
            }
            if !items.is_empty() {
                nl(out, depth);
            }
            out.push(']');
        }
        Value::Map(m, _) => {
            let m = m.borrow();
            out.push('{');
            for (i, (k, it)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                nl(out, depth + 1);
                json_string(out, k, html);
                out.push(':');
                if indent.is_some() {
                    out.push(' ');
                }
                write_json(out, it, html, indent, depth + 1)?;
            }
            if !m.is_empty() {
                nl(out, depth);
            }
            out.push('}');
        }
        _ => out.push_str("null"),
    }
    Ok(())
}

/// `json.Marshal` (HTML-escaping `<`, `>`, `&`).
pub fn to_json(v: &Value) -> Result<String, String> {
    let mut out = String::new();
    write_json(&mut out, v, true, None, 0)?;
    Ok(out)
}

/// `json.MarshalIndent(v, "", "  ")`.
pub fn to_pretty_json(v: &Value) -> Result<String, String> {
    let mut out = String::new();
    write_json(&mut out, v, true, Some("  "), 0)?;
    Ok(out)
}

/// An encoder with `SetEscapeHTML(false)` (helm's `toRawJson`, newline trimmed).
pub fn to_raw_json(v: &Value) -> Result<String, String> {
    let mut out = String::new();
    write_json(&mut out, v, false, None, 0)?;
    Ok(out)
}

/// Decodes JSON; numbers become float64 (`fromJson` has no `UseNumber`),
/// or `json.Number` with `use_number`.
pub fn parse_json(text: &str, use_number: bool) -> Result<Value, String> {
    let j: serde_json::Value = serde_json::from_str(text).map_err(|e| go_json_error(text, &e))?;
    Ok(json_to_value(&j, use_number))
}

fn json_to_value(j: &serde_json::Value, use_number: bool) -> Value {
    use serde_json::Value as J;
    match j {
        J::Null => Value::Nil,
        J::Bool(b) => Value::Bool(*b),
        J::Number(n) if use_number => Value::Number(n.to_string().into()),
        J::Number(n) => Value::Float(n.as_f64().unwrap_or(0.0)),
        J::String(s) => Value::str(s.as_str()),
        J::Array(a) => Value::list(a.iter().map(|x| json_to_value(x, use_number)).collect()),
        J::Object(o) => Value::map(
            o.iter()
                .map(|(k, x)| (k.clone(), json_to_value(x, use_number)))
                .collect(),
        ),
    }
}

/// Go's wording for the common JSON syntax errors.
fn go_json_error(text: &str, e: &serde_json::Error) -> String {
    if text.trim().is_empty() || e.is_eof() {
        return "unexpected end of JSON input".into();
    }
    // Find the offending character.
    let mut off = 0;
    for (i, l) in text.split_inclusive('\n').enumerate() {
        if i + 1 == e.line() {
            off += l
                .char_indices()
                .nth(e.column().saturating_sub(1))
                .map_or(l.len(), |(o, _)| o);
            break;
        }
        off += l.len();
    }
    let c = text[off.min(text.len())..].chars().next().unwrap_or(' ');
    let msg = e.to_string();
    let what = if msg.starts_with("key must be a string") {
        "looking for beginning of object key string"
    } else if msg.starts_with("expected `,` or `}`") {
        "after object key:value pair"
    } else if msg.starts_with("expected `,` or `]`") {
        "after array element"
    } else if msg.starts_with("expected `:`") {
        "after object key"
    } else if msg.starts_with("trailing characters") {
        "after top-level value"
    } else {
        "looking for beginning of value"
    };
    format!("invalid character {} {what}", go_quote_rune(c))
}

fn go_quote_rune(c: char) -> String {
    match c {
        '\'' => "'\\''".into(),
        '\n' => "'\\n'".into(),
        '\t' => "'\\t'".into(),
        '\r' => "'\\r'".into(),
        c => format!("'{c}'"),
    }
}

// ---------------------------------------------------------------------------
// YAML 1.1 scalar resolution (go-yaml v2)
// ---------------------------------------------------------------------------

/// What a plain scalar means to go-yaml v2.
#[derive(Debug, Clone, PartialEq)]
pub enum Plain {
    Null,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(f64),
    Merge,
    Str,
}

fn float_style(s: &str) -> bool {
    // ^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$
    let b = s.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'+' | b'-')) {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let st = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i > st
    };
    if b.get(i) == Some(&b'.') {
        i += 1;
        if !digits(&mut i) {
            return false;
        }
    } else {
        if !digits(&mut i) {
            return false;
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            digits(&mut i);
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if !digits(&mut i) {
            return false;
        }
    }
    i == b.len()
}

fn parse_go_uint(s: &str) -> Option<u64> {
    let (radix, d) = if let Some(r) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        (16, r)
    } else if let Some(r) = s.strip_prefix("0o").or_else(|| s.strip_prefix("0O")) {
        (8, r)
    } else if let Some(r) = s.strip_prefix("0b").or_else(|| s.strip_prefix("0B")) {
        (2, r)
    } else if s.len() > 1 && s.starts_with('0') {
        (8, &s[1..])
    } else {
        (10, s)
    };
    if d.is_empty() || !d.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    u64::from_str_radix(d, radix).ok()
}

/// go-yaml v2's resolution of an untagged plain scalar.
pub fn resolve_plain(s: &str) -> Plain {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Plain::Null,
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return Plain::Bool(true);
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return Plain::Bool(false);
        }
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Plain::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Plain::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Plain::Float(f64::NAN),
        "<<" => return Plain::Merge,
        _ => {}
    }
    let c = s.as_bytes()[0];
    if !(c.is_ascii_digit() || c == b'+' || c == b'-' || c == b'.') {
        return Plain::Str;
    }
    let plain = s.replace('_', "");
    if plain
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'-')
        && let Some(i) = parse_go_int(&plain)
        && !plain[1..].contains(['+', '-'])
    {
        return Plain::Int(i);
    }
    if let Some(u) = parse_go_uint(&plain) {
        return Plain::Uint(u);
    }
    if float_style(&plain)
        && let Ok(f) = plain.parse::<f64>()
        && f.is_finite()
    {
        return Plain::Float(f);
    }
    Plain::Str
}

fn is_base60_float(s: &str) -> bool {
    // ^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$
    let b = s.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'+' | b'-')) {
        i += 1;
    }
    if !b.get(i).is_some_and(u8::is_ascii_digit) {
        return false;
    }
    i += 1;
    while b.get(i).is_some_and(|c| c.is_ascii_digit() || *c == b'_') {
        i += 1;
    }
    let mut groups = 0;
    while b.get(i) == Some(&b':') {
        i += 1;
        let st = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) && i - st < 2 {
            i += 1;
        }
        let g = &s[st..i];
        let ok = match g.len() {
            1 => true,
            2 => g.as_bytes()[0] <= b'5',
            _ => false,
        };
        if !ok {
            return false;
        }
        groups += 1;
    }
    if groups == 0 {
        return false;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        while b.get(i).is_some_and(|c| c.is_ascii_digit() || *c == b'_') {
            i += 1;
        }
    }
    i == b.len()
}

fn is_timestamp(s: &str) -> bool {
    use std::sync::OnceLock;
    static RE: OnceLock<regex::Regex> = OnceLock::new();
    let re = RE.get_or_init(|| {
        regex::Regex::new(
            r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:(?:[Tt](\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2}))|(?: (\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.\d+)?))?$",
        )
        .unwrap()
    });
    let Some(c) = re.captures(s) else {
        return false;
    };
    let n = |i: usize| c.get(i).map(|m| m.as_str().parse::<u32>().unwrap_or(99));
    let (y, m, d) = (n(1).unwrap(), n(2).unwrap(), n(3).unwrap());
    if !(1..=12).contains(&m) {
        return false;
    }
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let dim = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ][m as usize - 1];
    if d < 1 || d > dim {
        return false;
    }
    for (h, mi, se) in [(4, 5, 6), (7, 8, 9)] {
        if let (Some(h), Some(mi), Some(se)) = (n(h), n(mi), n(se))
            && (h > 23 || mi > 59 || se > 59)
        {
            return false;
        }
    }
    true
}

/// Would go-yaml v2 write this string plain (unquoted) as far as its type
/// goes? (The emitter may still quote it for its characters.)
fn plain_resolves_to_str(s: &str) -> bool {
    matches!(resolve_plain(s), Plain::Str | Plain::Merge)
        && !is_base60_float(s)
        && !(s.as_bytes().first().is_some_and(u8::is_ascii_digit) && is_timestamp(s))
}

// ---------------------------------------------------------------------------
// YAML emitter (go-yaml v2 / libyaml)
// ---------------------------------------------------------------------------

/// A YAML node after the JSON round trip: scalars already as text.
#[derive(Debug, Clone)]
enum Node {
    /// A plain scalar written as is (numbers, bools, null).
    Raw(String),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(String, Node)>),
}

/// go-yaml v2's ordering of map keys: letters before other runs, digit
/// runs compared as numbers.
pub fn natural_less(a: &str, b: &str) -> bool {
    let ar: Vec<char> = a.chars().collect();
    let br: Vec<char> = b.chars().collect();
    let mut i = 0;
    while i < ar.len() && i < br.len() {
        if ar[i] == br[i] {
            i += 1;
            continue;
        }
        let al = ar[i].is_alphabetic();
        let bl = br[i].is_alphabetic();
        if al && bl {
            return ar[i] < br[i];
        }
        if al || bl {
            return bl;
        }
        let (mut an, mut bn) = (0i64, 0i64);
        if ar[i] == '0' || br[i] == '0' {
            let mut j = i;
            while j > 0 && ar[j - 1].is_ascii_digit() {
                j -= 1;
                if ar[j] != '0' {
                    an = 1;
                    bn = 1;
                    break;
                }
            }
        }
        let mut ai = i;
        while ai < ar.len() && ar[ai].is_ascii_digit() {
            an = an.wrapping_mul(10).wrapping_add(ar[ai] as i64 - '0' as i64);
            ai += 1;
        }
        let mut bi = i;
        while bi < br.len() && br[bi].is_ascii_digit() {
            bn = bn.wrapping_mul(10).wrapping_add(br[bi] as i64 - '0' as i64);
            bi += 1;
        }
        if an != bn {
            return an < bn;
        }
        if ai != bi {
            return ai < bi;
        }
        return ar[i] < br[i];
    }
    ar.len() < br.len()
}

/// Characters go-yaml's reader refuses (they reach it raw inside JSON).
fn reader_rejects(s: &str) -> bool {
    s.chars().any(|c| {
        let u = c as u32;
        u == 0x7f || (0x80..=0x9f).contains(&u) && u != 0x85 || u == 0xfffe || u == 0xffff
    })
}

/// The JSON number text as go-yaml reads it back, formatted as it writes it.
fn yaml_number(text: &str) -> String {
    match resolve_plain(text) {
        Plain::Int(i) => i.to_string(),
        Plain::Uint(u) => u.to_string(),
        Plain::Float(f) => format_float(f, 'g', None),
        _ => text.to_string(),
    }
}

fn to_node(v: &Value, depth: usize, v3: bool) -> Result<Node, String> {
    if depth > 10000 {
        return Err("json: unsupported value: encountered a cycle".into());
    }
    if let Some(d) = plain_data(v) {
        return to_node(&d, depth + 1, v3);
    }
    if v3 {
        // yaml.v3 encodes the Go value itself: a json.Number is a string,
        // floats are `%g`.
        match v {
            Value::Number(n) => return Ok(Node::Str(n.to_string())),
            Value::Float(f) if f.is_infinite() => {
                return Ok(Node::Raw(if *f > 0.0 { ".inf" } else { "-.inf" }.into()));
            }
            Value::Float(f) if f.is_nan() => return Ok(Node::Raw(".nan".into())),
            Value::Float(f) => return Ok(Node::Raw(format_float(*f, 'g', None))),
            _ => {}
        }
    }
    if let Some(n) = json_number_text(v)? {
        return Ok(Node::Raw(yaml_number(&n)));
    }
    Ok(match v {
        Value::Nil => Node::Raw("null".into()),
        Value::Bool(b) => Node::Raw(b.to_string()),
        Value::String(s) => {
            if !v3 && reader_rejects(s) {
                return Err("yaml: control characters are not allowed".into());
            }
            Node::Str(s.to_string())
        }
        Value::List(items, _) => Node::Seq(
            items
                .iter()
                .map(|i| to_node(i, depth + 1, v3))
                .collect::<Result<_, _>>()?,
        ),
        Value::Map(m, _) => {
            let mut entries = Vec::new();
            for (k, it) in m.borrow().iter() {
                if !v3 && reader_rejects(k) {
                    return Err("yaml: control characters are not allowed".into());
                }
                entries.push((k.clone(), to_node(it, depth + 1, v3)?));
            }
            entries.sort_by(|a, b| {
                if natural_less(&a.0, &b.0) {
                    std::cmp::Ordering::Less
                } else if natural_less(&b.0, &a.0) {
                    std::cmp::Ordering::Greater
                } else {
                    std::cmp::Ordering::Equal
                }
            });
            Node::Map(entries)
        }
        _ => Node::Raw("null".into()),
    })
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Style {
    Plain,
    Single,
    Double,
    Literal,
}

struct Analysis {
    multiline: bool,
    block_plain: bool,
    single: bool,
    block: bool,
}

fn is_break(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

fn is_printable(c: char) -> bool {
    let u = c as u32;
    u == 0x0a
        || (0x20..=0x7e).contains(&u)
        || (0xa0..=0xd7ff).contains(&u)
        || ((0xe000..=0xfffd).contains(&u) && u != 0xfeff)
}

fn analyze(s: &str) -> Analysis {
    let ch: Vec<char> = s.chars().collect();
    if ch.is_empty() {
        return Analysis {
            multiline: false,
            block_plain: true,
            single: true,
            block: false,
        };
    }
    let mut block_ind = s.starts_with("---") || s.starts_with("...");
    let mut flow_ind = block_ind;
    let (mut line_breaks, mut special) = (false, false);
    let (mut leading_space, mut leading_break, mut trailing_space, mut trailing_break) =
        (false, false, false, false);
    let (mut break_space, mut space_break, mut prev_space, mut prev_break) =
        (false, false, false, false);
    let blankz = |i: usize| i >= ch.len() || matches!(ch[i], ' ' | '\t') || is_break(ch[i]);
    let mut preceded_ws = true;
    for i in 0..ch.len() {
        let c = ch[i];
        let followed_ws = blankz(i + 1);
        if i == 0 {
            match c {
                '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\'' | '"'
                | '%' | '@' | '`' => {
                    flow_ind = true;
                    block_ind = true;
                }
                '?' | ':' => {
                    flow_ind = true;
                    if followed_ws {
                        block_ind = true;
                    }
                }
                '-' if followed_ws => {
                    flow_ind = true;
                    block_ind = true;
                }
                _ => {}
            }
        } else {
            match c {
                ',' | '?' | '[' | ']' | '{' | '}' => flow_ind = true,
                ':' => {
                    flow_ind = true;
                    if followed_ws {
                        block_ind = true;
                    }
                }
                '#' if preceded_ws => {
                    flow_ind = true;
                    block_ind = true;
                }
                _ => {}
            }
        }
        if !is_printable(c) {
            special = true;
        }
        if is_break(c) {
            line_breaks = true;
        }
        if c == ' ' {
            if i == 0 {
                leading_space = true;
            }
            if i == ch.len() - 1 {
                trailing_space = true;
            }
            if prev_break {
                break_space = true;
            }
            prev_space = true;
            prev_break = false;
        } else if is_break(c) {
            if i == 0 {
                leading_break = true;
            }
            if i == ch.len() - 1 {
                trailing_break = true;
            }
            if prev_space {
                space_break = true;
            }
            prev_break = true;
            prev_space = false;
        } else {
            prev_space = false;
            prev_break = false;
        }
        preceded_ws = blankz(i);
    }
    let mut a = Analysis {
        multiline: line_breaks,
        block_plain: true,
        single: true,
        block: true,
    };
    if leading_space || leading_break || trailing_space || trailing_break {
        a.block_plain = false;
    }
    if trailing_space {
        a.block = false;
    }
    if break_space {
        a.block_plain = false;
        a.single = false;
    }
    if space_break || special {
        a.block_plain = false;
        a.single = false;
        a.block = false;
    }
    if line_breaks {
        a.block_plain = false;
    }
    if block_ind {
        a.block_plain = false;
    }
    let _ = flow_ind;
    a
}

/// Emitter options: go-yaml v2 (`toYaml`) or v3 with indent 2 (`toYamlPretty`).
#[derive(Clone, Copy)]
struct Opts {
    best_width: usize,
    indent_seqs: bool,
    v3: bool,
}

struct Emitter {
    out: String,
    column: usize,
    whitespace: bool,
    indention: bool,
    indent: i64,
    indents: Vec<i64>,
    opts: Opts,
}

impl Emitter {
    fn new(opts: Opts) -> Emitter {
        Emitter {
            out: String::new(),
            column: 0,
            whitespace: true,
            indention: true,
            indent: -1,
            indents: vec![],
            opts,
        }
    }

    fn put(&mut self, c: char) {
        self.out.push(c);
        self.column += 1;
    }

    fn put_break(&mut self) {
        self.out.push('\n');
        self.column = 0;
    }

    fn increase_indent(&mut self, flow: bool, indentless: bool) {
        self.indents.push(self.indent);
        if self.indent < 0 {
            self.indent = if flow { 2 } else { 0 };
        } else if !indentless {
            self.indent += 2;
        }
    }

    fn pop_indent(&mut self) {
        self.indent = self.indents.pop().unwrap_or(-1);
    }

    fn write_indent(&mut self) {
        let indent = self.indent.max(0) as usize;
        if !self.indention || self.column > indent || (self.column == indent && !self.whitespace) {
            self.put_break();
        }
        while self.column < indent {
            self.put(' ');
        }
        self.whitespace = true;
        self.indention = true;
    }

    fn indicator(&mut self, ind: &str, need_ws: bool, is_ws: bool, is_indention: bool) {
        if need_ws && !self.whitespace {
            self.put(' ');
        }
        for c in ind.chars() {
            self.put(c);
        }
        self.whitespace = is_ws;
        self.indention = self.indention && is_indention;
    }

    fn node(&mut self, n: &Node, mapping_ctx: bool, simple_key: bool) {
        match n {
            Node::Raw(s) => self.scalar(s, Style::Plain, simple_key),
            Node::Str(s) => {
                let style = if s.contains('\n') {
                    Style::Literal
                } else if self.str_plain_ok(s) {
                    Style::Plain
                } else {
                    Style::Double
                };
                self.scalar(s, style, simple_key)
            }
            Node::Seq(items) if items.is_empty() => {
                self.indicator("[", true, true, false);
                self.indicator("]", false, false, false);
            }
            Node::Map(items) if items.is_empty() => {
                self.indicator("{", true, true, false);
                self.indicator("}", false, false, false);
            }
            Node::Seq(items) => {
                let indentless = mapping_ctx && !self.indention && !self.opts.indent_seqs;
                self.increase_indent(false, indentless);
                for it in items {
                    self.write_indent();
                    self.indicator("-", true, false, true);
                    self.node(it, false, false);
                }
                self.pop_indent();
            }
            Node::Map(items) => {
                self.increase_indent(false, false);
                for (k, v) in items {
                    self.write_indent();
                    let key = Node::Str(k.clone());
                    if k.len() <= 128 && !analyze(k).multiline {
                        self.node(&key, true, true);
                        self.indicator(":", false, false, false);
                    } else {
                        self.indicator("?", true, false, true);
                        self.node(&key, true, false);
                        self.write_indent();
                        self.indicator(":", true, false, true);
                    }
                    self.node(v, true, false);
                }
                self.pop_indent();
            }
        }
    }

    fn str_plain_ok(&self, s: &str) -> bool {
        if self.opts.v3 {
            let old_bool = matches!(
                s,
                "y" | "Y"
                    | "yes"
                    | "Yes"
                    | "YES"
                    | "on"
                    | "On"
                    | "ON"
                    | "n"
                    | "N"
                    | "no"
                    | "No"
                    | "NO"
                    | "off"
                    | "Off"
                    | "OFF"
            );
            return !old_bool && plain_resolves_to_str(s);
        }
        plain_resolves_to_str(s)
    }

    fn scalar(&mut self, s: &str, mut style: Style, simple_key: bool) {
        let a = analyze(s);
        if simple_key && a.multiline {
            style = Style::Double;
        }
        if style == Style::Plain && (!a.block_plain || (s.is_empty() && simple_key)) {
            style = Style::Single;
        }
        if style == Style::Single && !a.single {
            style = Style::Double;
        }
        if style == Style::Literal && (!a.block || simple_key) {
            style = Style::Double;
        }
        self.increase_indent(true, false);
        let breaks = !simple_key;
        match style {
            Style::Plain => self.write_plain(s, breaks),
            Style::Single => self.write_single(s, breaks),
            Style::Double => self.write_double(s, breaks),
            Style::Literal => self.write_literal(s),
        }
        self.pop_indent();
    }

    fn too_wide(&self) -> bool {
        self.column > self.opts.best_width
    }

    fn write_plain(&mut self, s: &str, allow_breaks: bool) {
        if !self.whitespace {
            self.put(' ');
        }
        let ch: Vec<char> = s.chars().collect();
        let mut spaces = false;
        for i in 0..ch.len() {
            if ch[i] == ' ' {
                if allow_breaks && !spaces && self.too_wide() && ch.get(i + 1) != Some(&' ') {
                    self.write_indent();
                } else {
                    self.put(' ');
                }
                spaces = true;
            } else {
                self.put(ch[i]);
                self.indention = false;
                spaces = false;
            }
        }
        self.whitespace = false;
        self.indention = false;
    }

    fn write_single(&mut self, s: &str, allow_breaks: bool) {
        self.indicator("'", true, false, false);
        let ch: Vec<char> = s.chars().collect();
        let mut spaces = false;
        for i in 0..ch.len() {
            if ch[i] == ' ' {
                if allow_breaks
                    && !spaces
                    && self.too_wide()
                    && i != 0
                    && i != ch.len() - 1
                    && ch.get(i + 1) != Some(&' ')
                {
                    self.write_indent();
                } else {
                    self.put(' ');
                }
                spaces = true;
            } else {
                if ch[i] == '\'' {
                    self.put('\'');
                }
                self.put(ch[i]);
                self.indention = false;
                spaces = false;
            }
        }
        self.indicator("'", false, false, false);
    }

    fn write_double(&mut self, s: &str, allow_breaks: bool) {
        self.indicator("\"", true, false, false);
        let ch: Vec<char> = s.chars().collect();
        let mut spaces = false;
        for i in 0..ch.len() {
            let c = ch[i];
            if !is_printable(c) || c == '\u{feff}' || is_break(c) || c == '"' || c == '\\' {
                self.put('\\');
                let esc = match c {
                    '\0' => "0".to_string(),
                    '\x07' => "a".into(),
                    '\x08' => "b".into(),
                    '\t' => "t".into(),
                    '\n' => "n".into(),
                    '\x0b' => "v".into(),
                    '\x0c' => "f".into(),
                    '\r' => "r".into(),
                    '\x1b' => "e".into(),
                    '"' => "\"".into(),
                    '\\' => "\\".into(),
                    '\u{85}' => "N".into(),
                    '\u{a0}' => "_".into(),
                    '\u{2028}' => "L".into(),
                    '\u{2029}' => "P".into(),
                    c if (c as u32) <= 0xff => format!("x{:02X}", c as u32),
                    c if (c as u32) <= 0xffff => format!("u{:04X}", c as u32),
                    c => format!("U{:08X}", c as u32),
                };
                for e in esc.chars() {
                    self.put(e);
                }
                spaces = false;
            } else if c == ' ' {
                if allow_breaks && !spaces && self.too_wide() && i != 0 && i != ch.len() - 1 {
                    self.write_indent();
                    if ch.get(i + 1) == Some(&' ') {
                        self.put('\\');
                    }
                } else {
                    self.put(' ');
                }
                spaces = true;
            } else {
                self.put(c);
                spaces = false;
            }
        }
        self.indicator("\"", false, false, false);
    }

    fn write_literal(&mut self, s: &str) {
        self.indicator("|", true, false, false);
        let ch: Vec<char> = s.chars().collect();
        if ch.first().is_some_and(|c| *c == ' ' || is_break(*c)) {
            self.indicator("2", false, false, false);
        }
        let n = ch.len();
        let chomp = if n == 0 || !is_break(ch[n - 1]) {
            Some("-")
        } else if n == 1 || is_break(ch[n - 2]) {
            Some("+")
        } else {
            None
        };
        if let Some(c) = chomp {
            self.indicator(c, false, false, false);
        }
        self.put_break();
        self.indention = true;
        self.whitespace = true;
        let mut breaks = true;
        for &c in &ch {
            if is_break(c) {
                self.out.push(c);
                self.column = 0;
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                    breaks = false;
                }
                self.put(c);
                self.indention = false;
            }
        }
    }

    fn finish(mut self) -> String {
        // document end
        self.write_indent_end();
        self.out
    }

    fn write_indent_end(&mut self) {
        if self.column > 0 || !self.whitespace && !self.indention {
            self.put_break();
        }
    }
}

fn emit(v: &Value, opts: Opts) -> Result<String, String> {
    let n = to_node(v, 0, opts.v3)?;
    let mut e = Emitter::new(opts);
    e.node(&n, false, false);
    Ok(e.finish())
}

/// `sigs.k8s.io/yaml.Marshal`: the YAML text, with its final newline.
pub fn to_yaml(v: &Value) -> Result<String, String> {
    emit(
        v,
        Opts {
            best_width: 80,
            indent_seqs: false,
            v3: false,
        },
    )
}

/// Helm's `toYamlPretty` (yaml.v3 encoder with indent 2): sequences are
/// indented under their key.
pub fn to_yaml_pretty(v: &Value) -> Result<String, String> {
    emit(
        v,
        Opts {
            best_width: usize::MAX,
            indent_seqs: true,
            v3: true,
        },
    )
}

// ---------------------------------------------------------------------------
// TOML (BurntSushi/toml encoder)
// ---------------------------------------------------------------------------

fn toml_key(k: &str) -> String {
    if !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        k.to_string()
    } else {
        toml_str(k)
    }
}

fn toml_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\u{:04X}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn toml_float(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf" } else { "-inf" }.into();
    }
    let s = format_float(f, 'f', None);
    if s.contains('.') { s } else { format!("{s}.0") }
}

fn toml_is_table(v: &Value) -> bool {
    matches!(v, Value::Map(..))
}

fn toml_is_table_array(v: &Value) -> bool {
    match v {
        Value::List(items, _) => !items.is_empty() && items.iter().all(toml_is_table),
        _ => false,
    }
}

fn toml_inline(v: &Value) -> Result<String, String> {
    if let Some(d) = plain_data(v) {
        return toml_inline(&d);
    }
    Ok(match v {
        Value::Bool(b) => b.to_string(),
        Value::Int(i) | Value::Int64(i) => i.to_string(),
        Value::Float(f) => toml_float(*f),
        Value::Number(n) => {
            if let Ok(i) = n.parse::<i64>() {
                i.to_string()
            } else if let Ok(f) = n.parse::<f64>() {
                toml_float(f)
            } else {
                toml_str(n)
            }
        }
        Value::String(s) => toml_str(s),
        Value::List(items, _) => {
            if items.iter().any(Value::is_nil) {
                return Err("toml: cannot encode array with nil element".into());
            }
            let parts: Vec<String> = items.iter().map(toml_inline).collect::<Result<_, _>>()?;
            format!("[{}]", parts.join(", "))
        }
        Value::Map(m, _) => {
            let parts: Vec<String> = m
                .borrow()
                .iter()
                .filter(|(_, v)| !v.is_nil())
                .map(|(k, v)| Ok(format!("{} = {}", toml_key(k), toml_inline(v)?)))
                .collect::<Result<_, String>>()?;
            format!("{{{}}}", parts.join(", "))
        }
        Value::Nil => return Err("toml: cannot encode a nil value".into()),
        _ => String::new(),
    })
}

fn toml_table(
    out: &mut String,
    m: &BTreeMap<String, Value>,
    path: &[String],
) -> Result<(), String> {
    let ind = "  ".repeat(path.len());
    for (k, v) in m {
        if v.is_nil() || toml_is_table(v) || toml_is_table_array(v) {
            continue;
        }
        out.push_str(&format!("{ind}{} = {}\n", toml_key(k), toml_inline(v)?));
    }
    for (k, v) in m {
        let mut p = path.to_vec();
        p.push(k.clone());
        let name = p.iter().map(|s| toml_key(s)).collect::<Vec<_>>().join(".");
        if let Value::Map(sub, _) = v {
            if path.is_empty() && !out.is_empty() {
                out.push('\n');
            }
            out.push_str(&format!("{ind}[{name}]\n"));
            toml_table(out, &sub.borrow(), &p)?;
        } else if toml_is_table_array(v)
            && let Value::List(items, _) = v
        {
            for it in items.iter() {
                if let Value::Map(sub, _) = it {
                    if !out.is_empty() {
                        out.push('\n');
                    }
                    out.push_str(&format!("{ind}[[{name}]]\n"));
                    toml_table(out, &sub.borrow(), &p)?;
                }
            }
        }
    }
    Ok(())
}

/// Helm's `toToml`: a table as BurntSushi's encoder writes it; other values
/// as their inline TOML.
pub fn to_toml(v: &Value) -> Result<String, String> {
    match v {
        Value::Map(m, _) => {
            let mut out = String::new();
            toml_table(&mut out, &m.borrow(), &[])?;
            Ok(out)
        }
        v => toml_inline(v),
    }
}

// ---------------------------------------------------------------------------
// YAML parser (go-yaml v2 semantics)
// ---------------------------------------------------------------------------

/// A parsed YAML node before resolution.
#[derive(Clone, Debug)]
enum YNode {
    Scalar {
        text: String,
        plain: bool,
        tag: Option<String>,
    },
    Seq(Vec<YNode>),
    Map(Vec<(YNode, YNode)>),
}

struct Parser {
    s: Vec<char>,
    i: usize,
    anchors: HashMap<String, YNode>,
}

fn perr<T>(msg: impl Into<String>) -> Result<T, String> {
    Err(msg.into())
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.s.get(self.i).copied()
    }
    fn at(&self, k: usize) -> Option<char> {
        self.s.get(self.i + k).copied()
    }
    fn eof(&self) -> bool {
        self.i >= self.s.len()
    }
    fn blank_at(&self, k: usize) -> bool {
        matches!(self.at(k), None | Some(' ' | '\t' | '\n' | '\r'))
    }
    fn col(&self) -> usize {
        let mut j = self.i;
        while j > 0 && self.s[j - 1] != '\n' {
            j -= 1;
        }
        self.i - j
    }
    fn line_no(&self) -> usize {
        self.s[..self.i.min(self.s.len())]
            .iter()
            .filter(|c| **c == '\n')
            .count()
    }
    fn skip_inline_ws(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t')) {
            self.i += 1;
        }
    }
    /// Skips spaces, comments and line ends.
    fn skip_ws(&mut self) {
        loop {
            match self.peek() {
                Some(' ' | '\t' | '\n' | '\r' | '\u{feff}') => self.i += 1,
                Some('#') => {
                    while !matches!(self.peek(), None | Some('\n')) {
                        self.i += 1;
                    }
                }
                _ => break,
            }
        }
    }
    fn at_doc_marker(&self) -> bool {
        self.col() == 0
            && ((self.peek() == Some('-') && self.at(1) == Some('-') && self.at(2) == Some('-'))
                || (self.peek() == Some('.') && self.at(1) == Some('.') && self.at(2) == Some('.')))
            && self.blank_at(3)
    }

    fn document(&mut self) -> Result<Option<YNode>, String> {
        // directives
        loop {
            self.skip_ws();
            if self.peek() == Some('%') && self.col() == 0 {
                while !matches!(self.peek(), None | Some('\n')) {
                    self.i += 1;
                }
            } else {
                break;
            }
        }
        if self.at_doc_marker() && self.peek() == Some('-') {
            self.i += 3;
        }
        self.skip_ws();
        if self.eof() || self.at_doc_marker() {
            return Ok(None);
        }
        self.block_node(-1, false).map(Some)
    }

    fn properties(&mut self) -> Result<(Option<String>, Option<String>), String> {
        let (mut anchor, mut tag) = (None, None);
        loop {
            match self.peek() {
                Some('&') => {
                    self.i += 1;
                    anchor = Some(self.word());
                }
                Some('!') => {
                    tag = Some(self.word());
                }
                _ => break,
            }
            self.skip_inline_ws();
        }
        Ok((anchor, tag))
    }

    fn word(&mut self) -> String {
        let st = self.i;
        while !self.blank_at(0) && !matches!(self.peek(), Some(',' | '[' | ']' | '{' | '}')) {
            self.i += 1;
        }
        self.s[st..self.i].iter().collect()
    }

    fn alias(&mut self) -> Result<YNode, String> {
        self.i += 1;
        let name = self.word();
        match self.anchors.get(&name) {
            Some(n) => Ok(n.clone()),
            None => perr(format!("yaml: unknown anchor '{name}' referenced")),
        }
    }

    fn with_tag(n: YNode, tag: Option<String>) -> YNode {
        match (n, tag) {
            (YNode::Scalar { text, plain, .. }, Some(t)) => YNode::Scalar {
                text,
                plain,
                tag: Some(t),
            },
            (n, _) => n,
        }
    }

    /// Is there a `key:` (an implicit mapping key) starting here on this line?
    fn key_follows(&self) -> bool {
        let mut j = self.i;
        let mut quote: Option<char> = None;
        let mut depth = 0;
        while j < self.s.len() && self.s[j] != '\n' {
            let c = self.s[j];
            if let Some(q) = quote {
                if c == q {
                    if q == '\'' && self.s.get(j + 1) == Some(&'\'') {
                        j += 2;
                        continue;
                    }
                    quote = None;
                } else if c == '\\' && q == '"' {
                    j += 1;
                }
            } else if (c == '"' || c == '\'') && j == self.i {
                quote = Some(c);
            } else if c == '[' || c == '{' {
                if j == self.i || depth > 0 {
                    depth += 1;
                }
            } else if (c == ']' || c == '}') && depth > 0 {
                depth -= 1;
            } else if c == '#' && j > self.i && matches!(self.s[j - 1], ' ' | '\t') {
                return false;
            } else if c == ':'
                && depth == 0
                && matches!(self.s.get(j + 1), None | Some(' ' | '\t' | '\n' | '\r'))
            {
                return true;
            }
            j += 1;
        }
        false
    }

    fn block_node(&mut self, parent: i64, seq_at_parent: bool) -> Result<YNode, String> {
        self.skip_ws();
        if self.eof() || self.at_doc_marker() {
            return Ok(null_node());
        }
        let c = self.col() as i64;
        if c <= parent
            && !(seq_at_parent && c == parent && self.peek() == Some('-') && self.blank_at(1))
        {
            return Ok(null_node());
        }
        let (anchor, tag) = self.properties()?;
        if anchor.is_some() || tag.is_some() {
            // properties then a newline: the node is on the next lines
            if matches!(self.peek(), None | Some('\n' | '\r' | '#')) {
                self.skip_ws();
                let c2 = self.col() as i64;
                let n = if self.eof()
                    || self.at_doc_marker()
                    || c2 <= parent && !(seq_at_parent && c2 == parent)
                {
                    null_node()
                } else {
                    self.block_node(parent, seq_at_parent)?
                };
                let n = Self::with_tag(n, tag);
                if let Some(a) = anchor {
                    self.anchors.insert(a, n.clone());
                }
                return Ok(n);
            }
        }
        let c = self.col() as i64;
        let n = if self.peek() == Some('-') && self.blank_at(1) {
            self.block_seq(c)?
        } else if self.peek() == Some('?') && self.blank_at(1) {
            self.block_map(c, None)?
        } else if matches!(self.peek(), Some('|' | '>')) {
            self.block_scalar(parent)?
        } else if self.key_follows() {
            if anchor.is_some() || tag.is_some() {
                // properties belong to the first key when on the key's line
                let key = self.flow_or_key_scalar()?;
                let key = Self::with_tag(key, tag);
                if let Some(a) = anchor {
                    self.anchors.insert(a, key.clone());
                }
                return self.block_map(c, Some(key));
            }
            self.block_map(c, None)?
        } else if self.peek() == Some('*') {
            self.alias()?
        } else if matches!(self.peek(), Some('[' | '{')) {
            self.flow_node()?
        } else if matches!(self.peek(), Some('"' | '\'')) {
            self.quoted()?
        } else {
            self.plain_block(parent)?
        };
        let n = Self::with_tag(n, tag);
        if let Some(a) = anchor {
            self.anchors.insert(a, n.clone());
        }
        Ok(n)
    }

    fn flow_or_key_scalar(&mut self) -> Result<YNode, String> {
        match self.peek() {
            Some('"' | '\'') => self.quoted(),
            Some('*') => self.alias(),
            Some('[' | '{') => self.flow_node(),
            _ => Ok(self.plain_line(false)),
        }
    }

    fn block_seq(&mut self, c: i64) -> Result<YNode, String> {
        let mut items = vec![];
        loop {
            self.i += 1; // '-'
            items.push(self.block_node(c, false)?);
            self.skip_ws();
            if self.eof()
                || self.at_doc_marker()
                || self.col() as i64 != c
                || !(self.peek() == Some('-') && self.blank_at(1))
            {
                break;
            }
        }
        Ok(YNode::Seq(items))
    }

    fn block_map(&mut self, c: i64, mut first: Option<YNode>) -> Result<YNode, String> {
        let mut entries = vec![];
        loop {
            let key = if let Some(k) = first.take() {
                k
            } else if self.peek() == Some('?') && self.blank_at(1) {
                self.i += 1;
                let k = self.block_node(c, false)?;
                self.skip_ws();
                if !(self.peek() == Some(':') && self.col() as i64 == c) {
                    entries.push((k, null_node()));
                    if self.eof() || self.at_doc_marker() || self.col() as i64 != c {
                        break;
                    }
                    continue;
                }
                k
            } else {
                let (anchor, tag) = self.properties()?;
                let k = Self::with_tag(self.flow_or_key_scalar()?, tag);
                if let Some(a) = anchor {
                    self.anchors.insert(a, k.clone());
                }
                k
            };
            self.skip_inline_ws();
            if self.peek() != Some(':') {
                return perr("yaml: could not find expected ':'");
            }
            self.i += 1;
            let v = self.block_node(c, true)?;
            entries.push((key, v));
            self.skip_ws();
            if self.eof() || self.at_doc_marker() || self.col() as i64 != c {
                break;
            }
        }
        Ok(YNode::Map(entries))
    }

    /// One line of a plain scalar (block context when `!flow`).
    fn plain_line(&mut self, flow: bool) -> YNode {
        let st = self.i;
        while let Some(c) = self.peek() {
            if c == '\n' || c == '\r' {
                break;
            }
            if c == ':'
                && (self.blank_at(1)
                    || flow && matches!(self.at(1), Some(',' | '[' | ']' | '{' | '}')))
            {
                break;
            }
            if c == '#' && self.i > st && matches!(self.s[self.i - 1], ' ' | '\t') {
                break;
            }
            if flow && matches!(c, ',' | '[' | ']' | '{' | '}') {
                break;
            }
            self.i += 1;
        }
        let text: String = self.s[st..self.i].iter().collect();
        YNode::Scalar {
            text: text.trim_end_matches([' ', '\t']).to_string(),
            plain: true,
            tag: None,
        }
    }

    fn plain_block(&mut self, parent: i64) -> Result<YNode, String> {
        let YNode::Scalar { mut text, .. } = self.plain_line(false) else {
            unreachable!()
        };
        loop {
            // a comment ends a plain scalar
            self.skip_inline_ws();
            if self.peek() == Some('#') || !matches!(self.peek(), Some('\n' | '\r')) {
                break;
            }
            let save = self.i;
            let mut blank_lines = 0;
            let mut j = self.i;
            // count following blank lines, find the next content line
            loop {
                if j >= self.s.len() {
                    break;
                }
                if self.s[j] == '\n' {
                    j += 1;
                }
                let ls = j;
                while j < self.s.len() && matches!(self.s[j], ' ' | '\t') {
                    j += 1;
                }
                if j < self.s.len() && (self.s[j] == '\n' || self.s[j] == '\r') {
                    if self.s[j] == '\r' {
                        j += 1;
                    }
                    blank_lines += 1;
                    continue;
                }
                self.i = j;
                let col = (j - ls) as i64;
                if j >= self.s.len() || col <= parent || self.s[j] == '#' || self.at_doc_marker() {
                    self.i = save;
                    return Ok(YNode::Scalar {
                        text,
                        plain: true,
                        tag: None,
                    });
                }
                break;
            }
            if j >= self.s.len() {
                self.i = save;
                break;
            }
            let YNode::Scalar { text: more, .. } = self.plain_line(false) else {
                unreachable!()
            };
            if blank_lines == 0 {
                text.push(' ');
            } else {
                text.push_str(&"\n".repeat(blank_lines));
            }
            text.push_str(&more);
            if self.peek() == Some(':') {
                return perr(format!(
                    "yaml: line {}: mapping values are not allowed in this context",
                    self.line_no() + 1
                ));
            }
        }
        Ok(YNode::Scalar {
            text,
            plain: true,
            tag: None,
        })
    }

    fn quoted(&mut self) -> Result<YNode, String> {
        let q = self.peek().unwrap();
        self.i += 1;
        let mut out = String::new();
        loop {
            let Some(c) = self.peek() else {
                return perr(format!(
                    "yaml: line {}: found unexpected end of stream",
                    self.line_no() + 1
                ));
            };
            if c == q {
                if q == '\'' && self.at(1) == Some('\'') {
                    out.push('\'');
                    self.i += 2;
                    continue;
                }
                self.i += 1;
                break;
            }
            if c == '\n' || c == '\r' {
                // line folding
                while out.ends_with([' ', '\t']) {
                    out.pop();
                }
                let mut breaks = 0;
                while let Some(c) = self.peek() {
                    match c {
                        '\n' => {
                            breaks += 1;
                            self.i += 1
                        }
                        ' ' | '\t' | '\r' => self.i += 1,
                        _ => break,
                    }
                }
                if breaks <= 1 {
                    out.push(' ');
                } else {
                    out.push_str(&"\n".repeat(breaks - 1));
                }
                continue;
            }
            if q == '"' && c == '\\' {
                self.i += 1;
                let e = self.peek().unwrap_or(' ');
                self.i += 1;
                let hex = |p: &mut Parser, n: usize| -> Result<char, String> {
                    let h: String = p.s[p.i..(p.i + n).min(p.s.len())].iter().collect();
                    p.i += n;
                    u32::from_str_radix(&h, 16)
                        .ok()
                        .and_then(char::from_u32)
                        .ok_or_else(|| {
                            "yaml: found invalid Unicode character escape code".to_string()
                        })
                };
                match e {
                    '0' => out.push('\0'),
                    'a' => out.push('\x07'),
                    'b' => out.push('\x08'),
                    't' | '\t' => out.push('\t'),
                    'n' => out.push('\n'),
                    'v' => out.push('\x0b'),
                    'f' => out.push('\x0c'),
                    'r' => out.push('\r'),
                    'e' => out.push('\x1b'),
                    ' ' => out.push(' '),
                    '"' => out.push('"'),
                    '/' => out.push('/'),
                    '\\' => out.push('\\'),
                    'N' => out.push('\u{85}'),
                    '_' => out.push('\u{a0}'),
                    'L' => out.push('\u{2028}'),
                    'P' => out.push('\u{2029}'),
                    'x' => out.push(hex(self, 2)?),
                    'u' => out.push(hex(self, 4)?),
                    'U' => out.push(hex(self, 8)?),
                    '\n' | '\r' => {
                        if e == '\r' && self.peek() == Some('\n') {
                            self.i += 1;
                        }
                        while matches!(self.peek(), Some(' ' | '\t')) {
                            self.i += 1;
                        }
                    }
                    _ => {
                        return perr(
                            "yaml: found unknown escape character while parsing a quoted scalar",
                        );
                    }
                }
                continue;
            }
            out.push(c);
            self.i += 1;
        }
        Ok(YNode::Scalar {
            text: out,
            plain: false,
            tag: None,
        })
    }

    fn block_scalar(&mut self, parent: i64) -> Result<YNode, String> {
        let folded = self.peek() == Some('>');
        self.i += 1;
        let (mut chomp, mut explicit) = (' ', None);
        while let Some(c) = self.peek() {
            match c {
                '+' | '-' => chomp = c,
                '1'..='9' => explicit = Some(c as usize - '0' as usize),
                _ => break,
            }
            self.i += 1;
        }
        while !matches!(self.peek(), None | Some('\n')) {
            self.i += 1;
        }
        let n = parent.max(0) as usize;
        let base = if parent < 0 { 0 } else { n };
        // gather lines
        let mut lines: Vec<String> = vec![];
        let mut indent = explicit.map(|d| if parent < 0 { d } else { base + d });
        let mut ended_with_break = false;
        while self.peek() == Some('\n') {
            let save = self.i;
            self.i += 1;
            let ls = self.i;
            while self.peek() == Some(' ') {
                self.i += 1;
            }
            let sp = self.i - ls;
            let rest_blank = matches!(self.peek(), None | Some('\n' | '\r'));
            if rest_blank {
                lines.push(String::new());
                if self.peek() == Some('\r') {
                    self.i += 1;
                }
                ended_with_break = true;
                if self.eof() {
                    break;
                }
                continue;
            }
            let ind = *indent.get_or_insert(sp.max(if parent < 0 { 0 } else { n + 1 }));
            if sp < ind || (parent >= 0 && sp as i64 <= parent) || (sp == 0 && self.at_doc_marker())
            {
                self.i = save;
                ended_with_break = true;
                break;
            }
            let st = ls + ind;
            while !matches!(self.peek(), None | Some('\n')) {
                self.i += 1;
            }
            let line: String = self.s[st..self.i].iter().collect();
            lines.push(line.trim_end_matches('\r').to_string());
            ended_with_break = self.peek() == Some('\n');
            if self.eof() {
                break;
            }
        }
        // If we stopped at a blank-line run at EOF, the line count includes it.
        let trailing = lines.iter().rev().take_while(|l| l.is_empty()).count();
        let content = &lines[..lines.len() - trailing];
        let mut body = String::new();
        if folded {
            let mut prev_more = true;
            let mut empties = 0;
            let mut first = true;
            for l in content {
                if l.is_empty() {
                    empties += 1;
                    continue;
                }
                let more = l.starts_with([' ', '\t']);
                if first {
                    body.push_str(&"\n".repeat(empties));
                } else if !prev_more && !more {
                    if empties == 0 {
                        body.push(' ');
                    } else {
                        body.push_str(&"\n".repeat(empties));
                    }
                } else {
                    body.push_str(&"\n".repeat(empties + 1));
                }
                body.push_str(l);
                prev_more = more;
                first = false;
                empties = 0;
            }
        } else {
            body = content.join("\n");
        }
        let has_content = !content.is_empty();
        let text = match chomp {
            '-' => body,
            '+' => {
                let mut b = body;
                let nbreaks = if has_content {
                    trailing + usize::from(ended_with_break)
                } else {
                    trailing
                };
                let nbreaks = nbreaks.min(trailing + 1);
                b.push_str(&"\n".repeat(nbreaks));
                b
            }
            _ => {
                if has_content && (ended_with_break || trailing > 0) {
                    body + "\n"
                } else {
                    body
                }
            }
        };
        Ok(YNode::Scalar {
            text,
            plain: false,
            tag: None,
        })
    }

    fn skip_flow_ws(&mut self) {
        self.skip_ws();
    }

    fn flow_node(&mut self) -> Result<YNode, String> {
        self.skip_flow_ws();
        let (anchor, tag) = self.properties()?;
        self.skip_flow_ws();
        let n = match self.peek() {
            Some('[') => {
                self.i += 1;
                let mut items = vec![];
                loop {
                    self.skip_flow_ws();
                    match self.peek() {
                        Some(']') => {
                            self.i += 1;
                            break;
                        }
                        None => {
                            return perr(format!(
                                "yaml: line {}: did not find expected ',' or ']'",
                                self.line_no()
                            ));
                        }
                        _ => {}
                    }
                    let item = self.flow_node()?;
                    self.skip_flow_ws();
                    let item = if self.peek() == Some(':') {
                        self.i += 1;
                        let v = self.flow_value()?;
                        YNode::Map(vec![(item, v)])
                    } else {
                        item
                    };
                    items.push(item);
                    self.skip_flow_ws();
                    match self.peek() {
                        Some(',') => self.i += 1,
                        Some(']') => {}
                        _ => {
                            return perr(format!(
                                "yaml: line {}: did not find expected ',' or ']'",
                                self.line_no()
                            ));
                        }
                    }
                }
                YNode::Seq(items)
            }
            Some('{') => {
                self.i += 1;
                let mut entries = vec![];
                loop {
                    self.skip_flow_ws();
                    match self.peek() {
                        Some('}') => {
                            self.i += 1;
                            break;
                        }
                        None => {
                            return perr(format!(
                                "yaml: line {}: did not find expected ',' or '}}'",
                                self.line_no()
                            ));
                        }
                        _ => {}
                    }
                    if self.peek() == Some('?') && self.blank_at(1) {
                        self.i += 1;
                    }
                    let k = self.flow_node()?;
                    self.skip_flow_ws();
                    let v = if self.peek() == Some(':') {
                        self.i += 1;
                        self.flow_value()?
                    } else {
                        null_node()
                    };
                    entries.push((k, v));
                    self.skip_flow_ws();
                    match self.peek() {
                        Some(',') => self.i += 1,
                        Some('}') => {}
                        _ => {
                            return perr(format!(
                                "yaml: line {}: did not find expected ',' or '}}'",
                                self.line_no()
                            ));
                        }
                    }
                }
                YNode::Map(entries)
            }
            Some('"' | '\'') => self.quoted()?,
            Some('*') => self.alias()?,
            Some(',' | ']' | '}') => null_node(),
            _ => self.plain_flow()?,
        };
        let n = Self::with_tag(n, tag);
        if let Some(a) = anchor {
            self.anchors.insert(a, n.clone());
        }
        Ok(n)
    }

    fn flow_value(&mut self) -> Result<YNode, String> {
        self.skip_flow_ws();
        if matches!(self.peek(), Some(',' | ']' | '}')) {
            return Ok(null_node());
        }
        self.flow_node()
    }

    fn plain_flow(&mut self) -> Result<YNode, String> {
        let YNode::Scalar { mut text, .. } = self.plain_line(true) else {
            unreachable!()
        };
        // continuation lines inside a flow collection
        loop {
            let save = self.i;
            let mut breaks = 0;
            while let Some(c) = self.peek() {
                match c {
                    '\n' => {
                        breaks += 1;
                        self.i += 1
                    }
                    ' ' | '\t' | '\r' => self.i += 1,
                    _ => break,
                }
            }
            if breaks == 0
                || matches!(
                    self.peek(),
                    None | Some(',' | ']' | '}' | '#' | ':' | '[' | '{')
                )
            {
                self.i = save;
                break;
            }
            let YNode::Scalar { text: more, .. } = self.plain_line(true) else {
                unreachable!()
            };
            if breaks == 1 {
                text.push(' ');
            } else {
                text.push_str(&"\n".repeat(breaks - 1));
            }
            text.push_str(&more);
        }
        Ok(YNode::Scalar {
            text,
            plain: true,
            tag: None,
        })
    }
}

fn null_node() -> YNode {
    YNode::Scalar {
        text: String::new(),
        plain: true,
        tag: None,
    }
}

/// A Go value as go-yaml v2 decodes it into `interface {}`.
#[derive(Clone, Debug)]
enum GoVal {
    Nil,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(f64),
    Str(String),
    List(Vec<GoVal>),
    /// Keys in insertion order (later duplicates replace).
    Map(Vec<(GoVal, GoVal)>),
}

fn short_tag(t: &str) -> &str {
    t.strip_prefix("tag:yaml.org,2002:")
        .or_else(|| t.strip_prefix("!!"))
        .unwrap_or(t)
}

fn resolve_node(n: &YNode) -> Result<GoVal, String> {
    Ok(match n {
        YNode::Scalar { text, plain, tag } => {
            let tag = tag.as_deref().map(short_tag);
            match tag {
                Some("str") => GoVal::Str(text.clone()),
                Some("binary") => {
                    use base64::Engine;
                    let clean: String = text.chars().filter(|c| !c.is_whitespace()).collect();
                    let b = base64::engine::general_purpose::STANDARD
                        .decode(clean)
                        .map_err(|e| {
                            format!("yaml: !!binary value contains invalid base64 data: {e}")
                        })?;
                    GoVal::Str(String::from_utf8_lossy(&b).into_owned())
                }
                Some(t @ ("int" | "float" | "bool" | "null")) => {
                    let r = resolve_plain(text);
                    let ok = matches!(
                        (t, &r),
                        ("int", Plain::Int(_) | Plain::Uint(_))
                            | ("float", Plain::Float(_) | Plain::Int(_) | Plain::Uint(_))
                            | ("bool", Plain::Bool(_))
                            | ("null", Plain::Null)
                    );
                    if !ok {
                        return Err(format!("yaml: cannot decode !!{t} `{text}` as a !!{t}"));
                    }
                    match (t, r) {
                        ("float", Plain::Int(i)) => GoVal::Float(i as f64),
                        ("float", Plain::Uint(u)) => GoVal::Float(u as f64),
                        (_, r) => plain_to_go(r, text),
                    }
                }
                _ if *plain => plain_to_go(resolve_plain(text), text),
                _ => GoVal::Str(text.clone()),
            }
        }
        YNode::Seq(items) => GoVal::List(items.iter().map(resolve_node).collect::<Result<_, _>>()?),
        YNode::Map(entries) => {
            let mut out: Vec<(GoVal, GoVal)> = vec![];
            let set = |out: &mut Vec<(GoVal, GoVal)>, k: GoVal, v: GoVal| {
                let kk = go_key_identity(&k);
                if let Some(e) = out.iter_mut().find(|(ek, _)| go_key_identity(ek) == kk) {
                    e.1 = v;
                } else {
                    out.push((k, v));
                }
            };
            for (k, v) in entries {
                if let YNode::Scalar {
                    text,
                    plain: true,
                    tag: None,
                } = k
                    && text == "<<"
                {
                    let merged = match resolve_node(v)? {
                        GoVal::Map(m) => vec![m],
                        GoVal::List(l) => {
                            let mut ms = vec![];
                            for it in l.into_iter().rev() {
                                match it {
                                    GoVal::Map(m) => ms.push(m),
                                    _ => {
                                        return perr(
                                            "yaml: map merge requires map or sequence of maps as the value",
                                        );
                                    }
                                }
                            }
                            ms
                        }
                        _ => {
                            return perr(
                                "yaml: map merge requires map or sequence of maps as the value",
                            );
                        }
                    };
                    for m in merged {
                        for (mk, mv) in m {
                            set(&mut out, mk, mv);
                        }
                    }
                    continue;
                }
                let kv = resolve_node(k)?;
                let vv = resolve_node(v)?;
                set(&mut out, kv, vv);
            }
            GoVal::Map(out)
        }
    })
}

fn go_key_identity(k: &GoVal) -> String {
    format!("{k:?}")
}

fn plain_to_go(r: Plain, text: &str) -> GoVal {
    match r {
        Plain::Null => GoVal::Nil,
        Plain::Bool(b) => GoVal::Bool(b),
        Plain::Int(i) => GoVal::Int(i),
        Plain::Uint(u) => GoVal::Uint(u),
        Plain::Float(f) => GoVal::Float(f),
        Plain::Merge | Plain::Str => GoVal::Str(text.to_string()),
    }
}

/// `strconv.FormatFloat(f, 'g', -1, 32)`.
fn format_float32_g(f: f64) -> String {
    let f32v = f as f32;
    if f32v == 0.0 {
        return if f32v.is_sign_negative() { "-0" } else { "0" }.into();
    }
    let s = format!("{:e}", f32v.abs());
    let (m, e) = s.split_once('e').unwrap();
    let digits: String = m.chars().filter(|c| *c != '.').collect();
    let exp: i32 = e.parse().unwrap();
    let sign = if f32v < 0.0 { "-" } else { "" };
    // shortest float32 digits, Go's %g with exponent threshold 6
    crate::template::gofmt::layout_g(sign, &digits, exp + 1, 6)
}

fn go_sharp_v(v: &GoVal) -> String {
    match v {
        GoVal::Nil => "<nil>".into(),
        GoVal::Str(s) => crate::template::gofmt::quote(s),
        GoVal::Int(i) => i.to_string(),
        GoVal::Uint(u) => format!("0x{u:x}"),
        GoVal::Float(f) => format_float(*f, 'g', None),
        GoVal::Bool(b) => b.to_string(),
        GoVal::List(_) => "[]interface {}{...}".into(),
        GoVal::Map(_) => "map[interface {}]interface {}{...}".into(),
    }
}

/// sigs.k8s.io/yaml's YAML → JSON, then `encoding/json` decoding (with
/// `UseNumber` when `use_number`).
fn go_to_value(v: &GoVal, use_number: bool) -> Result<Value, String> {
    let num = |text: String, f: f64| {
        if use_number {
            Value::Number(text.into())
        } else {
            Value::Float(f)
        }
    };
    Ok(match v {
        GoVal::Nil => Value::Nil,
        GoVal::Bool(b) => Value::Bool(*b),
        GoVal::Int(i) => num(i.to_string(), *i as f64),
        GoVal::Uint(u) => num(u.to_string(), *u as f64),
        GoVal::Float(f) => {
            let t = go_json_float(*f)?;
            let back: f64 = t.parse().unwrap_or(*f);
            num(t, back)
        }
        GoVal::Str(s) => Value::str(s.as_str()),
        GoVal::List(items) => Value::list(
            items
                .iter()
                .map(|i| go_to_value(i, use_number))
                .collect::<Result<_, _>>()?,
        ),
        GoVal::Map(entries) => {
            let mut m = BTreeMap::new();
            for (k, val) in entries {
                m.insert(json_key(k, val)?, go_to_value(val, use_number)?);
            }
            Value::map(m)
        }
    })
}

/// A YAML map key as sigs.k8s.io/yaml turns it into a JSON object key.
fn json_key(k: &GoVal, val: &GoVal) -> Result<String, String> {
    Ok(match k {
        GoVal::Str(s) => s.clone(),
        GoVal::Int(i) => i.to_string(),
        GoVal::Uint(u) => u.to_string(),
        GoVal::Float(f) => format_float32_g(*f),
        GoVal::Bool(b) => b.to_string(),
        GoVal::Nil => {
            return Err(format!(
                "unsupported map key of type: %!s(<nil>), key: <nil>, value: {}",
                go_sharp_v(val)
            ));
        }
        other => return Err(format!("yaml: invalid map key: {}", go_sharp_v(other))),
    })
}

/// The first YAML document of `text` as sigs.k8s.io/yaml hands it to
/// `encoding/json` when the target is a Go struct: JSON whose numbers keep
/// whether YAML wrote an integer (`i64`/`u64`) or a float (`f64`), because
/// sigs.k8s.io/yaml writes the two differently into a string field (see
/// [`crate::gostruct`]). Object keys come sorted, as Go's JSON encoder
/// writes them. An empty document is `Null`. Errors read
/// `error converting YAML to JSON: yaml: line N: …`.
pub fn to_json_doc(text: &str) -> Result<serde_json::Value, String> {
    fn conv(v: &GoVal) -> Result<serde_json::Value, String> {
        use serde_json::Value as J;
        Ok(match v {
            GoVal::Nil => J::Null,
            GoVal::Bool(b) => J::Bool(*b),
            GoVal::Int(i) => J::from(*i),
            GoVal::Uint(u) => J::from(*u),
            GoVal::Float(f) => {
                // JSON has no infinities: sigs.k8s.io/yaml fails the same way
                go_json_float(*f)?;
                J::from(*f)
            }
            GoVal::Str(s) => J::String(s.clone()),
            GoVal::List(items) => J::Array(items.iter().map(conv).collect::<Result<_, _>>()?),
            GoVal::Map(entries) => {
                let mut m = BTreeMap::new();
                for (k, val) in entries {
                    m.insert(json_key(k, val)?, conv(val)?);
                }
                J::Object(m.into_iter().collect())
            }
        })
    }
    let g = yaml_to_go(text).map_err(|e| format!("error converting YAML to JSON: {e}"))?;
    conv(&g).map_err(|e| format!("error converting YAML to JSON: {e}"))
}

/// `strconv.FormatFloat(f, 'g', -1, 32)`, infinities included (`+Inf`):
/// how sigs.k8s.io/yaml writes a YAML float into a Go string field.
pub fn float32_g(f: f64) -> String {
    let f32v = f as f32;
    if f32v.is_nan() {
        return "NaN".into();
    }
    if f32v.is_infinite() {
        return if f32v > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    format_float32_g(f)
}

/// go-yaml's error text for a syntax error, from libyaml's report (the
/// same C parser, translated): `yaml: line N: problem`, with go-yaml's
/// line rule (the 0-based problem line, +1 for scanner errors, none on the
/// first line).
fn syntax_check(text: &str) -> Result<(), String> {
    use serde::Deserialize;
    let Some(doc) = serde_yaml::Deserializer::from_str(text).next() else {
        return Ok(());
    };
    let Err(e) = serde::de::IgnoredAny::deserialize(doc) else {
        return Ok(());
    };
    let msg = e.to_string();
    if msg.starts_with("unknown anchor")
        || msg.contains("recursion limit")
        || msg.starts_with("duplicate")
    {
        return Ok(());
    }
    let (problem, rest) = match msg.find(" at line ") {
        Some(p) => (&msg[..p], &msg[p + 9..]),
        None => match msg.find(" at position ") {
            Some(p) => (&msg[..p], ""),
            None => (msg.as_str(), ""),
        },
    };
    let line1: usize = rest
        .split(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let ctx_line: usize = rest
        .find(" at line ")
        .and_then(|p| rest[p + 9..].split(' ').next().and_then(|n| n.parse().ok()))
        .unwrap_or(0);
    let parser_problem = [
        "did not find expected key",
        "did not find expected ',' or ']'",
        "did not find expected ',' or '}'",
        "did not find expected node content",
        "did not find expected '-' indicator",
        "did not find expected <document start>",
        "found undefined tag handle",
        "found duplicate %YAML directive",
        "found incompatible YAML document",
        "found duplicate %TAG directive",
    ]
    .contains(&problem);
    let mut line = 0;
    if line1 > 1 {
        line = line1 - 1;
        if !parser_problem {
            line += 1;
        }
    } else if ctx_line > 1 {
        line = ctx_line - 1;
    }
    Err(if line != 0 {
        format!("yaml: line {line}: {problem}")
    } else {
        format!("yaml: {problem}")
    })
}

fn yaml_to_go(text: &str) -> Result<GoVal, String> {
    syntax_check(text)?;
    let mut p = Parser {
        s: text.chars().collect(),
        i: 0,
        anchors: HashMap::new(),
    };
    match p.document()? {
        Some(n) => resolve_node(&n),
        None => Ok(GoVal::Nil),
    }
}

fn json_type_word(v: &GoVal) -> &'static str {
    match v {
        GoVal::Nil => "null",
        GoVal::Bool(_) => "bool",
        GoVal::Int(_) | GoVal::Uint(_) | GoVal::Float(_) => "number",
        GoVal::Str(_) => "string",
        GoVal::List(_) => "array",
        GoVal::Map(_) => "object",
    }
}

/// YAML text as sigs.k8s.io/yaml unmarshals it into
/// `map[string]interface {}`. Errors carry helm's wording after the file
/// name (`error converting YAML to JSON: yaml: line 2: …`).
fn yaml_to_map(text: &str, use_number: bool) -> Result<Value, String> {
    let g = yaml_to_go(text).map_err(|e| format!("error converting YAML to JSON: {e}"))?;
    let v =
        go_to_value(&g, use_number).map_err(|e| format!("error converting YAML to JSON: {e}"))?;
    match (&g, v) {
        (GoVal::Nil, _) => Ok(Value::empty_map()),
        (GoVal::Map(_), v) => Ok(v),
        (g, _) => Err(format!(
            "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
            json_type_word(g)
        )),
    }
}

/// How helm 3.18 reads a values file: YAML 1.1 → JSON → Go with
/// `UseNumber`, so every number is a `json.Number`. The error is helm's
/// text after `cannot load values.yaml: `.
pub fn parse_values(text: &str) -> Result<Value, String> {
    yaml_to_map(text, true)
}

/// Helm's `fromYaml`: numbers are float64; an error becomes `{"Error": msg}`.
pub fn from_yaml(text: &str) -> Value {
    yaml_to_map(text, false).unwrap_or_else(error_map)
}

fn error_map(e: String) -> Value {
    let mut m = BTreeMap::new();
    m.insert("Error".to_string(), Value::str(e));
    Value::map(m)
}

/// Helm's `fromYamlArray`: an error becomes a one-item list with the message.
pub fn from_yaml_array(text: &str) -> Value {
    let r = (|| {
        let g = yaml_to_go(text).map_err(|e| format!("error converting YAML to JSON: {e}"))?;
        let v =
            go_to_value(&g, false).map_err(|e| format!("error converting YAML to JSON: {e}"))?;
        match g {
            GoVal::Nil => Ok(Value::list(vec![])),
            GoVal::List(_) => Ok(v),
            g => Err(format!(
                "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {} into Go value of type []interface {{}}",
                json_type_word(&g)
            )),
        }
    })();
    r.unwrap_or_else(|e| Value::list(vec![Value::str(e)]))
}

/// Helm's `fromJson`.
pub fn from_json(text: &str) -> Value {
    match parse_json(text, false) {
        Ok(v @ Value::Map(..)) => v,
        Ok(Value::Nil) => Value::empty_map(),
        Ok(v) => error_map(format!(
            "json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
            json_value_word(&v)
        )),
        Err(e) => error_map(e),
    }
}

/// Helm's `fromJsonArray`.
pub fn from_json_array(text: &str) -> Value {
    match parse_json(text, false) {
        Ok(v @ Value::List(..)) => v,
        Ok(Value::Nil) => Value::list(vec![]),
        Ok(v) => Value::list(vec![Value::str(format!(
            "json: cannot unmarshal {} into Go value of type []interface {{}}",
            json_value_word(&v)
        ))]),
        Err(e) => Value::list(vec![Value::str(e)]),
    }
}

fn json_value_word(v: &Value) -> &'static str {
    match v {
        Value::Bool(_) => "bool",
        Value::Float(_) | Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::List(..) => "array",
        Value::Map(..) => "object",
        _ => "null",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vals(y: &str) -> Value {
        parse_values(y).unwrap()
    }

    fn yaml(y: &str) -> String {
        to_yaml(&vals(y)).unwrap()
    }

    #[test]
    fn values_resolve_as_yaml_1_1() {
        let v = vals(
            "a: yes\nb: \"yes\"\nd: 0755\ne: 1e3\nf: 1.0\ng: 0x10\nh: 1_000\nj: 1.50\nk: -0\nl: 123456789012345678901234567890\nn: ~\nza: 9223372036854775808\nzb: 1e21\nzf: 0.0000001\nx: -0.0\nv: 1:20\nw: 2024-01-01\n",
        );
        let j = to_json(&v).unwrap();
        assert_eq!(
            j,
            r#"{"a":true,"b":"yes","d":493,"e":1000,"f":1,"false":null,"g":16,"h":1000,"j":1.5,"k":0,"l":1.2345678901234568e+29,"v":"1:20","w":"2024-01-01","x":-0,"za":9223372036854775808,"zb":1e+21,"zf":1e-7}"#
        );
        assert_eq!(v.get("d").unwrap().type_name(), "json.Number");
    }

    #[test]
    fn float_keys_are_32_bit() {
        let v = vals(
            "1.5: a\n1e3: b\n010: d\n1.0: e\ntrue: f\n0x1F: g\n1e30: h\n0.1: i\n123456789.5: j\n",
        );
        assert_eq!(
            to_json(&v).unwrap(),
            r#"{"0.1":"i","1":"e","1.2345679e+08":"j","1.5":"a","1000":"b","1e+30":"h","31":"g","8":"d","true":"f"}"#
        );
    }

    #[test]
    fn emits_like_go_yaml_v2() {
        let y = yaml(
            "s1: \"yes\"\ns7: \"a: b\"\ns9: \" lead\"\ns11: \"a\\nb\\n\"\ns12: \"a\\nb\"\ns13: \"a\\nb\\n\\n\"\ns15: \"it's\"\ns42: \"1:20\"\ns46: \" a\\nb\"\ns47: \"a \\nb\"\ns53: \"'q\"\ns65: \"\\n\"\ne: {}\nl: [a, [b, c], {d: e}, []]\n",
        );
        assert_eq!(
            y,
            "e: {}\nl:\n- a\n- - b\n  - c\n- d: e\n- []\ns1: \"yes\"\ns7: 'a: b'\ns9: ' lead'\ns11: |\n  a\n  b\ns12: |-\n  a\n  b\ns13: |+\n  a\n  b\n\ns15: it's\ns42: \"1:20\"\ns46: |2-\n   a\n  b\ns47: \"a \\nb\"\ns53: '''q'\ns65: |2+\n\n"
        );
    }

    #[test]
    fn folds_long_lines() {
        let y = yaml(
            "s14: \"The quick brown fox jumps over the lazy dog and then keeps running far far away until it reaches the end of this long line\"\nlongdq: \"tab\\tThe quick brown fox jumps over the lazy dog and then keeps running far far away until it reaches  the end  of this long line which goes on and on\"\n",
        );
        assert_eq!(
            y,
            "longdq: \"tab\\tThe quick brown fox jumps over the lazy dog and then keeps running far\n  far away until it reaches  the end  of this long line which goes on and on\"\ns14: The quick brown fox jumps over the lazy dog and then keeps running far far away\n  until it reaches the end of this long line\n"
        );
    }

    #[test]
    fn natural_key_order() {
        let y =
            yaml("{a10: 1, a9: 2, b: 3, B: 4, \"1\": 5, \"10\": 6, \"9\": 7, ab1c: 13, ab01c: 14}");
        assert_eq!(
            y,
            "\"1\": 5\n\"9\": 7\n\"10\": 6\nB: 4\na9: 2\na10: 1\nab1c: 13\nab01c: 14\nb: 3\n"
        );
    }

    #[test]
    fn roots_and_numbers() {
        assert_eq!(to_yaml(&Value::str("foo")).unwrap(), "foo\n");
        assert_eq!(to_yaml(&Value::str("a\nb")).unwrap(), "|-\n  a\n  b\n");
        assert_eq!(to_yaml(&Value::str("a\n\n")).unwrap(), "|+\n  a\n\n");
        assert_eq!(to_yaml(&Value::Nil).unwrap(), "null\n");
        assert_eq!(to_yaml(&Value::Float(1e20)).unwrap(), "1e+20\n");
        assert_eq!(to_yaml(&Value::Float(1e6)).unwrap(), "1000000\n");
        assert_eq!(to_yaml(&Value::Float(1e-7)).unwrap(), "1e-07\n");
        assert_eq!(
            to_yaml(&Value::str("smile 😀")).unwrap(),
            "\"smile \\U0001F600\"\n"
        );
        let multikey = vals("\"multi\\nkey\": 1\n");
        assert_eq!(to_yaml(&multikey).unwrap(), "? |-\n  multi\n  key\n: 1\n");
    }

    #[test]
    fn json_like_go() {
        let v = vals("a: \"<&>\"\nb: 1.5\n");
        assert_eq!(
            to_json(&v).unwrap(),
            r#"{"a":"\u003c\u0026\u003e","b":1.5}"#
        );
        assert_eq!(to_raw_json(&v).unwrap(), r#"{"a":"<&>","b":1.5}"#);
        assert_eq!(go_json_float(1e21).unwrap(), "1e+21");
        assert_eq!(go_json_float(1e20).unwrap(), "100000000000000000000");
        assert_eq!(go_json_float(1e-7).unwrap(), "1e-7");
        assert_eq!(
            to_pretty_json(&vals("a: {}\nb: [1]\n")).unwrap(),
            "{\n  \"a\": {},\n  \"b\": [\n    1\n  ]\n}"
        );
    }

    #[test]
    fn parser_corners() {
        let j = |y: &str| to_json(&vals(y)).unwrap();
        assert_eq!(
            j("a: &x {p: 1}\nb: *x\nc:\n  <<: *x\n  q: 2\n"),
            r#"{"a":{"p":1},"b":{"p":1},"c":{"p":1,"q":2}}"#
        );
        assert_eq!(
            j("a: !!str 123\nb: !!int \"7\"\nc: !!float 1\nd: !!binary aGk=\n"),
            r#"{"a":"123","b":7,"c":1,"d":"hi"}"#
        );
        assert_eq!(
            j("a: >\n  folded\n  text\n\n  para\nb: |2\n    indented\n"),
            r#"{"a":"folded text\npara\n","b":"  indented\n"}"#
        );
        assert_eq!(
            j("a: plain\n  continued\n  lines\nb: 2\n"),
            r#"{"a":"plain continued lines","b":2}"#
        );
        assert_eq!(
            j("a: 'it''s'\nb: \"\\t\\u00e9\\x41\"\n"),
            r#"{"a":"it's","b":"\téA"}"#
        );
        assert_eq!(
            j("key: value # comment\nk2: \"v\" # c\n"),
            r#"{"k2":"v","key":"value"}"#
        );
        assert_eq!(
            j("a:\n  - 1\n  -\n  - {x: y}\nb:\n- a: 1\n  b: 2\n"),
            r#"{"a":[1,null,{"x":true}],"b":[{"a":1,"b":2}]}"#
        );
        assert_eq!(j("a: 1\na: 2\n"), r#"{"a":2}"#);
        assert_eq!(j(""), "{}");
        assert_eq!(j("a: 1\n---\nb: 2\n"), r#"{"a":1}"#);
    }

    #[test]
    fn errors_like_helm() {
        let e = |y: &str| parse_values(y).unwrap_err();
        assert_eq!(
            e("a:\n\tb: 1\n"),
            "error converting YAML to JSON: yaml: line 2: found character that cannot start any token"
        );
        assert_eq!(
            e("a: b: c\n"),
            "error converting YAML to JSON: yaml: mapping values are not allowed in this context"
        );
        assert_eq!(
            e("a: [1, 2\n"),
            "error converting YAML to JSON: yaml: line 1: did not find expected ',' or ']'"
        );
        assert_eq!(
            e("a: \"x\n"),
            "error converting YAML to JSON: yaml: line 2: found unexpected end of stream"
        );
        assert_eq!(
            e("a: 1\n b: 2\n"),
            "error converting YAML to JSON: yaml: line 2: mapping values are not allowed in this context"
        );
        assert_eq!(
            e("a:\n  b: 1\n c: 2\n"),
            "error converting YAML to JSON: yaml: line 2: did not find expected key"
        );
        assert_eq!(
            e("a: *nope\n"),
            "error converting YAML to JSON: yaml: unknown anchor 'nope' referenced"
        );
        assert_eq!(
            e("- a\n"),
            "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal array into Go value of type map[string]interface {}"
        );
        assert_eq!(
            e("a: .inf\n"),
            "error converting YAML to JSON: json: unsupported value: +Inf"
        );
    }

    #[test]
    fn toml_like_burntsushi() {
        let v = vals(
            "a: 1\nb: str\ne: [1, 2]\nf: {x: 1, z: {q: \"r\"}}\ng: [{m: 1}, {m: 2}]\ni: null\nk: {}\n",
        );
        assert_eq!(
            to_toml(&v).unwrap(),
            "a = 1\nb = \"str\"\ne = [1, 2]\n\n[f]\n  x = 1\n  [f.z]\n    q = \"r\"\n\n[[g]]\n  m = 1\n\n[[g]]\n  m = 2\n\n[k]\n"
        );
    }
}
