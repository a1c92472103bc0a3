//! Sprig's string functions, as helm 3.18 (Sprig v3.3, xstrings v1.5,
//! goutils) has them.
//!
//! Go strings are bytes, and several of these functions cut by byte
//! (`trunc`, `substr`, `abbrev`, `wrap`): a cut inside a multi-byte
//! character gives invalid UTF-8 in Go; here the broken bytes become
//! U+FFFD. Case mappings are Go's one-rune-to-one-rune ones (`upper "ß"` is
//! `ß`, not `SS`). Panics of the Go code (a negative `repeat`, `substr`
//! out of range) are errors with the text the Go runtime gives them.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use rand::Rng;
use rand::seq::SliceRandom;

use super::conv::{strslice, strval};
use super::{Funcs, Ty};
use crate::template::gofmt;
use crate::template::{MapKind, Value};

pub fn register(f: &mut Funcs) {
    use Ty::{Any, Int, Str};
    f.add("hello", &[], |_, _| Ok(Value::str("Hello!")));
    f.add("upper", &[Str], |_, a| {
        Ok(Value::str(go_map(s(&a[0]), go_upper)))
    });
    f.add("lower", &[Str], |_, a| {
        Ok(Value::str(go_map(s(&a[0]), go_lower)))
    });
    f.add("title", &[Str], |_, a| Ok(Value::str(title(s(&a[0])))));
    f.add("untitle", &[Str], |_, a| Ok(Value::str(untitle(s(&a[0])))));
    f.add("repeat", &[Int, Str], |_, a| {
        let n = i(&a[0]);
        if n < 0 {
            return Err("strings: negative Repeat count".into());
        }
        Ok(Value::str(s(&a[1]).repeat(n as usize)))
    });
    f.add("substr", &[Int, Int, Str], |_, a| {
        substr(i(&a[0]), i(&a[1]), s(&a[2])).map(Value::str)
    });
    f.add("trunc", &[Int, Str], |_, a| {
        Ok(Value::str(trunc(i(&a[0]), s(&a[1]))))
    });
    f.add("abbrev", &[Int, Str], |_, a| {
        Ok(Value::str(abbrev(i(&a[0]), s(&a[1]))))
    });
    f.add("abbrevboth", &[Int, Int, Str], |_, a| {
        Ok(Value::str(abbrevboth(i(&a[0]), i(&a[1]), s(&a[2]))))
    });
    f.add("nospace", &[Str], |_, a| {
        Ok(Value::str(
            s(&a[0])
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect::<String>(),
        ))
    });
    f.add("initials", &[Str], |_, a| {
        Ok(Value::str(initials(s(&a[0]))))
    });
    f.add("randAlphaNum", &[Int], |_, a| {
        Ok(Value::str(random(i(&a[0]), ALNUM)))
    });
    f.add("randAlpha", &[Int], |_, a| {
        Ok(Value::str(random(i(&a[0]), ALPHA)))
    });
    f.add("randNumeric", &[Int], |_, a| {
        Ok(Value::str(random(i(&a[0]), DIGITS)))
    });
    f.add("randAscii", &[Int], |_, a| {
        Ok(Value::str(random(i(&a[0]), ASCII)))
    });
    f.add("swapcase", &[Str], |_, a| {
        Ok(Value::str(swapcase(s(&a[0]))))
    });
    f.add("shuffle", &[Str], |_, a| {
        let mut chars: Vec<char> = s(&a[0]).chars().collect();
        chars.shuffle(&mut rand::rng());
        Ok(Value::str(chars.into_iter().collect::<String>()))
    });
    f.add("snakecase", &[Str], |_, a| {
        Ok(Value::str(to_lower_case(s(&a[0]), '_')))
    });
    f.add("kebabcase", &[Str], |_, a| {
        Ok(Value::str(to_lower_case(s(&a[0]), '-')))
    });
    f.add("camelcase", &[Str], |_, a| {
        Ok(Value::str(pascalcase(s(&a[0]))))
    });
    f.add("wrap", &[Int, Str], |_, a| {
        Ok(Value::str(wrap(s(&a[1]), i(&a[0]), "\n", false)))
    });
    f.add("wrapWith", &[Int, Str, Str], |_, a| {
        let sep = match s(&a[1]) {
            "" => "\n",
            sep => sep,
        };
        Ok(Value::str(wrap(s(&a[2]), i(&a[0]), sep, true)))
    });
    f.add("contains", &[Str, Str], |_, a| {
        Ok(Value::Bool(s(&a[1]).contains(s(&a[0]))))
    });
    f.add("hasPrefix", &[Str, Str], |_, a| {
        Ok(Value::Bool(s(&a[1]).starts_with(s(&a[0]))))
    });
    f.add("hasSuffix", &[Str, Str], |_, a| {
        Ok(Value::Bool(s(&a[1]).ends_with(s(&a[0]))))
    });
    f.add_variadic("quote", &[], Any, |_, a| {
        let q: Vec<String> = a
            .iter()
            .filter(|v| !v.is_nil())
            .map(|v| gofmt::quote(&strval(v)))
            .collect();
        Ok(Value::str(q.join(" ")))
    });
    f.add_variadic("squote", &[], Any, |_, a| {
        let q: Vec<String> = a
            .iter()
            .filter(|v| !v.is_nil())
            .map(|v| format!("'{}'", strval(v)))
            .collect();
        Ok(Value::str(q.join(" ")))
    });
    f.add_variadic("cat", &[], Any, |_, a| {
        let q: Vec<String> = a
            .iter()
            .filter(|v| !v.is_nil())
            .map(gofmt::sprint)
            .collect();
        Ok(Value::str(q.join(" ")))
    });
    f.add("indent", &[Int, Str], |_, a| {
        indent(i(&a[0]), s(&a[1])).map(Value::str)
    });
    f.add("nindent", &[Int, Str], |_, a| {
        indent(i(&a[0]), s(&a[1])).map(|t| Value::str(format!("\n{t}")))
    });
    f.add("replace", &[Str, Str, Str], |_, a| {
        Ok(Value::str(s(&a[2]).replace(s(&a[0]), s(&a[1]))))
    });
    f.add("plural", &[Str, Str, Int], |_, a| {
        Ok(if i(&a[2]) == 1 {
            a[0].clone()
        } else {
            a[1].clone()
        })
    });
    f.add("trim", &[Str], |_, a| Ok(Value::str(s(&a[0]).trim())));
    for name in ["trimAll", "trimall"] {
        f.add(name, &[Str, Str], |_, a| {
            let cut = s(&a[0]);
            Ok(Value::str(s(&a[1]).trim_matches(|c| cut.contains(c))))
        });
    }
    f.add("trimPrefix", &[Str, Str], |_, a| {
        Ok(Value::str(
            s(&a[1]).strip_prefix(s(&a[0])).unwrap_or(s(&a[1])),
        ))
    });
    f.add("trimSuffix", &[Str, Str], |_, a| {
        Ok(Value::str(
            s(&a[1]).strip_suffix(s(&a[0])).unwrap_or(s(&a[1])),
        ))
    });
    f.add("toString", &[Any], |_, a| Ok(Value::str(strval(&a[0]))));
    f.add("split", &[Str, Str], |_, a| {
        Ok(index_map(go_split(s(&a[1]), s(&a[0]), -1)))
    });
    f.add("splitList", &[Str, Str], |_, a| {
        Ok(Value::str_list(go_split(s(&a[1]), s(&a[0]), -1)))
    });
    f.add("splitn", &[Str, Int, Str], |_, a| {
        Ok(index_map(go_split(s(&a[2]), s(&a[0]), i(&a[1]))))
    });
    f.add("toStrings", &[Any], |_, a| {
        Ok(Value::str_list(strslice(&a[0])))
    });
    f.add("join", &[Str, Any], |_, a| {
        Ok(Value::str(strslice(&a[1]).join(s(&a[0]))))
    });
    f.add("sortAlpha", &[Any], |_, a| {
        Ok(Value::str_list(match &a[0] {
            Value::List(..) | Value::Bytes(_) => {
                let mut l = strslice(&a[0]);
                l.sort();
                l
            }
            v => vec![strval(v)],
        }))
    });
}

/// The text of an argument declared `string` (`""` for anything else,
/// which the executor does not let through).
fn s(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

/// An argument declared `int`.
fn i(v: &Value) -> i64 {
    match v {
        Value::Int(n) | Value::Int64(n) => *n,
        _ => 0,
    }
}

/// Bytes back to a string; a cut through a character becomes U+FFFD.
fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Go's `unicode.ToUpper`: one rune to one rune (no `ß` → `SS`).
pub fn go_upper(c: char) -> char {
    let mut it = c.to_uppercase();
    match (it.next(), it.next()) {
        (Some(u), None) => u,
        _ => c,
    }
}

/// Go's `unicode.ToLower`.
pub fn go_lower(c: char) -> char {
    if c == '\u{130}' {
        return 'i';
    }
    let mut it = c.to_lowercase();
    match (it.next(), it.next()) {
        (Some(l), None) => l,
        _ => c,
    }
}

/// Go's `unicode.ToTitle`: upper case, except for the digraphs that have a
/// title-case form of their own.
pub fn go_title(c: char) -> char {
    match c {
        '\u{1c4}'..='\u{1c6}' => '\u{1c5}',
        '\u{1c7}'..='\u{1c9}' => '\u{1c8}',
        '\u{1ca}'..='\u{1cc}' => '\u{1cb}',
        '\u{1f1}'..='\u{1f3}' => '\u{1f2}',
        c => go_upper(c),
    }
}

/// Go's `unicode.IsUpper` (category Lu; Rust's `is_uppercase` also counts
/// Other_Uppercase such as Ⓐ).
fn is_upper(c: char) -> bool {
    c.is_uppercase() && go_lower(c) != c || c.is_ascii_uppercase()
}

fn is_lower(c: char) -> bool {
    c.is_lowercase() && go_upper(c) != c || c.is_ascii_lowercase()
}

fn go_map(s: &str, f: fn(char) -> char) -> String {
    s.chars().map(f).collect()
}

/// Go's `strings.Title`: the first letter of each word in title case;
/// words are separated by anything but letters, digits and `_`.
fn title(s: &str) -> String {
    fn is_separator(c: char) -> bool {
        if c.is_ascii() {
            return !(c.is_ascii_alphanumeric() || c == '_');
        }
        if c.is_alphabetic() || c.is_numeric() {
            return false;
        }
        c.is_whitespace()
    }
    let mut prev = ' ';
    s.chars()
        .map(|c| {
            let out = if is_separator(prev) { go_title(c) } else { c };
            prev = c;
            out
        })
        .collect()
}

/// goutils' `Uncapitalize`: the first letter after white space in lower case.
fn untitle(s: &str) -> String {
    let mut next = true;
    s.chars()
        .map(|c| {
            if c.is_whitespace() {
                next = true;
                c
            } else if next {
                next = false;
                go_lower(c)
            } else {
                c
            }
        })
        .collect()
}

/// Go's message for `s[a:b]` out of range, when `a` is given.
fn slice_panic(from: Option<i64>, to: Option<i64>, len: usize) -> String {
    let msg = match (from, to) {
        (None, Some(t)) if t < 0 => format!("[:{t}]"),
        (None, Some(t)) => format!("[:{t}] with length {len}"),
        (Some(f), None) => format!("[{f}:{len}]"),
        (Some(_), Some(t)) if t > len as i64 => format!("[:{t}] with length {len}"),
        (Some(f), Some(t)) => format!("[{f}:{t}]"),
        (None, None) => String::new(),
    };
    format!("runtime error: slice bounds out of range {msg}")
}

/// Sprig's `substring`: a negative start means from 0, a negative or too
/// large end means to the end; anything else out of range panics.
fn substr(start: i64, end: i64, s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let len = b.len() as i64;
    if start < 0 {
        if end < 0 || end > len {
            return Err(slice_panic(None, Some(end), b.len()));
        }
        return Ok(lossy(&b[..end as usize]));
    }
    if end < 0 || end > len {
        if start > len {
            return Err(slice_panic(Some(start), None, b.len()));
        }
        return Ok(lossy(&b[start as usize..]));
    }
    if start > end {
        return Err(slice_panic(Some(start), Some(end), b.len()));
    }
    Ok(lossy(&b[start as usize..end as usize]))
}

/// Sprig's `trunc`: the first `c` bytes, or for a negative `c` the last `-c`.
fn trunc(c: i64, s: &str) -> String {
    let b = s.as_bytes();
    let len = b.len() as i64;
    if c < 0 && len + c > 0 {
        return lossy(&b[(len + c) as usize..]);
    }
    if c >= 0 && len > c {
        return lossy(&b[..c as usize]);
    }
    s.to_string()
}

/// goutils' `AbbreviateFull` for the widths Sprig lets through.
fn abbreviate_full(s: &[u8], offset: i64, width: i64) -> String {
    let len = s.len() as i64;
    if len == 0 {
        return String::new();
    }
    if len <= width {
        return lossy(s);
    }
    let mut offset = offset.min(len);
    if len - offset < width - 3 {
        offset = len - (width - 3);
    }
    if offset <= 4 {
        return format!("{}...", lossy(&s[..(width - 3) as usize]));
    }
    if width < 7 {
        return String::new();
    }
    if offset + width - 3 < len {
        return format!(
            "...{}",
            abbreviate_full(&s[offset as usize..], 0, width - 3)
        );
    }
    format!("...{}", lossy(&s[(len - (width - 3)) as usize..]))
}

fn abbrev(width: i64, s: &str) -> String {
    if width < 4 {
        return s.to_string();
    }
    abbreviate_full(s.as_bytes(), 0, width)
}

fn abbrevboth(left: i64, right: i64, s: &str) -> String {
    if right < 4 || left > 0 && right < 7 {
        return s.to_string();
    }
    abbreviate_full(s.as_bytes(), left, right)
}

/// goutils' `Initials`: the first byte of each white-space separated word,
/// taken as a character (so `é` gives `Ã`, as in Go).
fn initials(s: &str) -> String {
    let mut out = String::new();
    let mut gap = true;
    for &b in s.as_bytes() {
        let c = char::from(b);
        if c.is_whitespace() {
            gap = true;
        } else if gap {
            out.push(c);
            gap = false;
        }
    }
    out
}

const ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const ALPHA: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
const DIGITS: &[u8] = b"0123456789";
const ASCII: &[u8] = b" !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~";

/// goutils' random strings; a negative count is an error Sprig drops, so "".
fn random(n: i64, set: &[u8]) -> String {
    let mut rng = rand::rng();
    (0..n.max(0))
        .map(|_| set[rng.random_range(0..set.len())] as char)
        .collect()
}

/// goutils' `SwapCase`.
fn swapcase(s: &str) -> String {
    s.chars()
        .map(|c| {
            if is_upper(c) {
                go_lower(c)
            } else if is_lower(c) {
                go_upper(c)
            } else {
                c
            }
        })
        .collect()
}

/// goutils' `WrapCustom`: breaks at the last space within `width` bytes;
/// a longer word is cut (`long`) or left whole up to the next space.
fn wrap(s: &str, width: i64, newline: &str, long: bool) -> String {
    let b = s.as_bytes();
    if b.is_empty() {
        return String::new();
    }
    let width = width.max(1) as usize;
    let mut out: Vec<u8> = Vec::new();
    let mut off = 0usize;
    while b.len() - off > width {
        if b[off] == b' ' {
            off += 1;
            continue;
        }
        let end = width + off + 1;
        if let Some(sp) = b[off..end].iter().rposition(|&c| c == b' ') {
            out.extend_from_slice(&b[off..off + sp]);
            out.extend_from_slice(newline.as_bytes());
            off += sp + 1;
        } else if long {
            out.extend_from_slice(&b[off..off + width]);
            out.extend_from_slice(newline.as_bytes());
            off += width;
        } else {
            let end = width + off;
            match b[end..].iter().position(|&c| c == b' ') {
                None => {
                    out.extend_from_slice(&b[off..]);
                    off = b.len();
                }
                Some(i) => {
                    out.extend_from_slice(&b[off..end + i]);
                    out.extend_from_slice(newline.as_bytes());
                    off = end + i + 1;
                }
            }
        }
    }
    out.extend_from_slice(&b[off..]);
    lossy(&out)
}

fn indent(n: i64, s: &str) -> Result<String, String> {
    if n < 0 {
        return Err("strings: negative Repeat count".into());
    }
    let pad = " ".repeat(n as usize);
    Ok(format!("{pad}{}", s.replace('\n', &format!("\n{pad}"))))
}

/// Go's `strings.SplitN` (`n < 0`: all; `n == 0`: none); an empty separator
/// splits into characters.
pub fn go_split(s: &str, sep: &str, n: i64) -> Vec<String> {
    if n == 0 {
        return vec![];
    }
    let limit = if n < 0 { usize::MAX } else { n as usize };
    if sep.is_empty() {
        let mut out: Vec<String> = Vec::new();
        let mut rest = s;
        while let Some(c) = rest.chars().next() {
            if out.len() + 1 == limit {
                break;
            }
            out.push(c.to_string());
            rest = &rest[c.len_utf8()..];
        }
        if !rest.is_empty() {
            out.push(rest.to_string());
        }
        return out;
    }
    s.splitn(limit, sep).map(str::to_string).collect()
}

/// Sprig's `split`/`splitn` result: `map[string]string` keyed `_0`, `_1` …
fn index_map(parts: Vec<String>) -> Value {
    let m: BTreeMap<String, Value> = parts
        .into_iter()
        .enumerate()
        .map(|(i, p)| (format!("_{i}"), Value::str(p)))
        .collect();
    Value::Map(Rc::new(RefCell::new(m)), MapKind::Str)
}

/// xstrings' `isConnector`.
fn is_connector(c: char) -> bool {
    c == '-' || c == '_' || c.is_whitespace()
}

/// xstrings' `ToPascalCase` (Sprig's `camelcase`): connectors dropped and
/// the next letter upper-cased (a run of connectors keeps all but one);
/// a word starting with two capitals has its other capitals lowered
/// until the first non-capital (`HTTP_server` → `HttpServer`).
fn pascalcase(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    let mut cur = None;
    let mut upper_run = false;
    for c in chars.by_ref() {
        if !is_connector(c) {
            upper_run = is_upper(c);
            cur = Some(go_upper(c));
            break;
        }
        out.push(c);
    }
    let Some(mut r0) = cur else {
        // Only connectors: xstrings writes the last one twice.
        if let Some(last) = s.chars().last() {
            out.push(last);
        }
        return out;
    };
    for c in chars {
        let r1 = r0;
        r0 = c;
        if is_connector(r0) && is_connector(r1) {
            out.push(r1);
            continue;
        }
        if is_connector(r1) {
            upper_run = is_upper(r0);
            r0 = go_upper(r0);
        } else {
            if upper_run {
                if is_upper(r0) {
                    r0 = go_lower(r0);
                } else {
                    upper_run = false;
                }
            }
            out.push(r1);
        }
    }
    out.push(r0);
    out
}

/// Go's `unicode.IsPunct` (category P): in ASCII `$+<=>^`|~` are symbols.
fn is_punct(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_punctuation() && !"$+<=>^`|~".contains(c);
    }
    matches!(c as u32,
        0xa1 | 0xa7 | 0xab | 0xb6 | 0xb7 | 0xbb | 0xbf | 0x37e | 0x387
        | 0x55a..=0x55f | 0x589 | 0x58a | 0x5be | 0x5c0 | 0x5c3 | 0x5c6 | 0x5f3 | 0x5f4
        | 0x609..=0x60d | 0x61b..=0x61f | 0x66a..=0x66d | 0x6d4
        | 0x2010..=0x2027 | 0x2030..=0x2043 | 0x2045..=0x2051 | 0x2053..=0x205e
        | 0x207d | 0x207e | 0x208d | 0x208e | 0x2308..=0x230b | 0x2329 | 0x232a
        | 0x2768..=0x2775 | 0x27c5 | 0x27c6 | 0x27e6..=0x27ef | 0x2983..=0x2998
        | 0x29d8..=0x29db | 0x29fc | 0x29fd | 0x2cf9..=0x2cfc | 0x2cfe | 0x2cff
        | 0x2e00..=0x2e2e | 0x2e30..=0x2e4f | 0x3001..=0x3003 | 0x3008..=0x3011
        | 0x3014..=0x301f | 0x3030 | 0x303d | 0x30a0 | 0x30fb
        | 0xfe10..=0xfe19 | 0xfe30..=0xfe52 | 0xfe54..=0xfe61 | 0xfe63 | 0xfe68 | 0xfe6a | 0xfe6b
        | 0xff01..=0xff03 | 0xff05..=0xff0a | 0xff0c..=0xff0f | 0xff1a | 0xff1b | 0xff1f | 0xff20
        | 0xff3b..=0xff3d | 0xff3f | 0xff5b | 0xff5d | 0xff5f..=0xff65)
}

/// xstrings' `isAlphabet`: a letter, but not a CJK ideograph.
fn is_alphabet(c: char) -> bool {
    if !c.is_alphabetic() {
        return false;
    }
    !matches!(c as u32, 0x4e00..=0x9fcc | 0x3400..=0x4d85 | 0x20000..=0x2b81d)
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Word {
    None,
    Number,
    Upper,
    Alpha,
    Connector,
    Punct,
    Other,
}

/// xstrings' `nextWord`: the kind and text of the next word, and the rest.
fn next_word(s: &str) -> (Word, &str, &str) {
    let mut it = s.char_indices().peekable();
    let Some((_, first)) = it.next() else {
        return (Word::None, "", "");
    };
    let mut end = first.len_utf8();
    let take_while = |end: &mut usize, pred: &dyn Fn(char) -> bool| {
        for c in s[*end..].chars() {
            if !pred(c) {
                break;
            }
            *end += c.len_utf8();
        }
    };
    let kind = if is_connector(first) {
        take_while(&mut end, &is_connector);
        Word::Connector
    } else if is_punct(first) {
        take_while(&mut end, &is_punct);
        Word::Punct
    } else if is_upper(first) {
        if let Some(second) = s[end..].chars().next() {
            if is_upper(second) {
                // A run of capitals; if a letter follows, the last capital
                // starts the next word ("HTTPStatus" → "HTTP", "Status").
                let mut last = second.len_utf8();
                end += last;
                let mut next = None;
                for c in s[end..].chars() {
                    if !is_upper(c) {
                        next = Some(c);
                        break;
                    }
                    last = c.len_utf8();
                    end += last;
                }
                if next.is_some_and(is_alphabet) {
                    end -= last;
                }
            } else if is_alphabet(second) {
                end += second.len_utf8();
                take_while(&mut end, &|c| is_alphabet(c) && !is_upper(c));
            }
        }
        Word::Upper
    } else if is_alphabet(first) {
        take_while(&mut end, &|c| is_alphabet(c) && !is_upper(c));
        Word::Alpha
    } else if first.is_numeric() {
        take_while(&mut end, &|c: char| c.is_numeric());
        Word::Number
    } else {
        take_while(&mut end, &|c| {
            !(is_connector(c) || is_alphabet(c) || c.is_numeric() || is_punct(c))
        });
        Word::Other
    };
    (kind, &s[..end], &s[end..])
}

/// xstrings' `toLower` of one word: capitals lowered and connectors
/// replaced, for capital and connector words only.
fn word_lower(out: &mut String, kind: Word, word: &str, conn: char) {
    if kind != Word::Upper && kind != Word::Connector {
        out.push_str(word);
        return;
    }
    for c in word.chars() {
        if is_connector(c) {
            out.push(conn);
        } else {
            out.push(go_lower(c));
        }
    }
}

/// xstrings' `ToSnakeCase`/`ToKebabCase`: words in lower case joined by
/// `conn`; a number sticks to the word before it unless lower-case
/// letters follow it (`Bld4Floor` → `bld4_floor`, `HTTP2xx` → `http_2xx`).
fn to_lower_case(s: &str, conn: char) -> String {
    let mut out = String::new();
    if s.is_empty() {
        return out;
    }
    let (mut wt, mut word, mut rest) = next_word(s);
    while !rest.is_empty() {
        if wt != Word::Connector {
            word_lower(&mut out, wt, word, conn);
        }
        let prev = wt;
        let last = word;
        (wt, word, rest) = next_word(rest);
        match prev {
            Word::Number => {
                while wt == Word::Alpha || wt == Word::Number {
                    word_lower(&mut out, wt, word, conn);
                    (wt, word, rest) = next_word(rest);
                }
                if !matches!(wt, Word::None | Word::Punct | Word::Connector) {
                    out.push(conn);
                }
            }
            Word::Connector => word_lower(&mut out, prev, last, conn),
            Word::Punct => {}
            _ => {
                if wt != Word::Number {
                    if wt != Word::Connector && wt != Word::Punct {
                        out.push(conn);
                    }
                    continue;
                }
                if rest.is_empty() {
                    continue;
                }
                let num = word;
                (wt, word, rest) = next_word(rest);
                if wt != Word::Alpha {
                    word_lower(&mut out, Word::Number, num, conn);
                    if wt != Word::Connector && wt != Word::Punct {
                        out.push(conn);
                    }
                    continue;
                }
                out.push(conn);
                word_lower(&mut out, Word::Number, num, conn);
                while wt == Word::Alpha || wt == Word::Number {
                    word_lower(&mut out, wt, word, conn);
                    (wt, word, rest) = next_word(rest);
                }
                if !matches!(wt, Word::None | Word::Connector | Word::Punct) {
                    out.push(conn);
                }
            }
        }
    }
    word_lower(&mut out, wt, word, conn);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::funcs::call;

    fn run(name: &str, args: &[Value]) -> Result<Value, String> {
        call(&Funcs::helm(), name, args)
    }

    fn st(name: &str, args: &[Value]) -> String {
        let v = run(name, args).unwrap();
        assert_eq!(v.type_name(), "string", "{name} returns a string");
        v.as_str().unwrap().to_string()
    }

    fn n(i: i64) -> Value {
        Value::Int(i)
    }

    fn t(s: &str) -> Value {
        Value::str(s)
    }

    #[test]
    fn trunc_substr_abbrev() {
        assert_eq!(st("trunc", &[n(3), t("hello")]), "hel");
        assert_eq!(st("trunc", &[n(-3), t("hello")]), "llo");
        assert_eq!(st("trunc", &[n(10), t("hi")]), "hi");
        assert_eq!(st("trunc", &[n(-10), t("hi")]), "hi");
        assert_eq!(st("trunc", &[n(0), t("hi")]), "");
        assert_eq!(st("substr", &[n(1), n(3), t("hello")]), "el");
        assert_eq!(st("substr", &[n(-1), n(3), t("hello")]), "hel");
        assert_eq!(st("substr", &[n(2), n(10), t("hello")]), "llo");
        assert_eq!(st("substr", &[n(0), n(-1), t("hello")]), "hello");
        assert_eq!(
            run("substr", &[n(3), n(1), t("hello")]).unwrap_err(),
            "runtime error: slice bounds out of range [3:1]"
        );
        assert_eq!(
            run("substr", &[n(10), n(20), t("hello")]).unwrap_err(),
            "runtime error: slice bounds out of range [10:5]"
        );
        assert_eq!(
            run("substr", &[n(-5), n(-1), t("hello")]).unwrap_err(),
            "runtime error: slice bounds out of range [:-1]"
        );
        assert_eq!(st("abbrev", &[n(5), t("hello world")]), "he...");
        assert_eq!(st("abbrev", &[n(3), t("hello world")]), "hello world");
        assert_eq!(st("abbrev", &[n(4), t("hello world")]), "h...");
        assert_eq!(st("abbrev", &[n(20), t("hello")]), "hello");
        assert_eq!(
            st("abbrevboth", &[n(5), n(10), t("1234 5678 9123")]),
            "...5678..."
        );
        assert_eq!(st("abbrevboth", &[n(0), n(5), t("hello world")]), "he...");
        assert_eq!(st("abbrevboth", &[n(3), n(7), t("hello world")]), "hell...");
        assert_eq!(
            st("abbrevboth", &[n(1), n(3), t("hello world")]),
            "hello world"
        );
    }

    #[test]
    fn cases() {
        assert_eq!(st("upper", &[t("héllo")]), "HÉLLO");
        assert_eq!(st("upper", &[t("ß")]), "ß");
        assert_eq!(st("lower", &[t("HÉLLO")]), "héllo");
        assert_eq!(
            st("title", &[t("hello wORLD foo-bar foo_bar o'neil 1st")]),
            "Hello WORLD Foo-Bar Foo_bar O'Neil 1st"
        );
        assert_eq!(st("untitle", &[t("Hello World ABC")]), "hello world aBC");
        assert_eq!(st("swapcase", &[t("Hello World ÉÀ")]), "hELLO wORLD éà");
        assert_eq!(st("initials", &[t("hello big world")]), "hbw");
        assert_eq!(st("initials", &[t("  x  y")]), "xy");
        assert_eq!(st("initials", &[t("émile zola")]), "Ãz");
        assert_eq!(st("nospace", &[t(" h e\tl\nl o ")]), "hello");
    }

    #[test]
    fn xstrings_cases() {
        let camel = [
            ("hello_world", "HelloWorld"),
            ("helloWorld", "HelloWorld"),
            ("hello-world foo bar", "HelloWorldFooBar"),
            ("_hello__world_", "_Hello_World_"),
            ("HTTP_server", "HttpServer"),
            ("abc123def", "Abc123def"),
            ("HTTP", "Http"),
            ("HTTPServer", "Httpserver"),
            ("GOLANG_IS_GREAT", "GolangIsGreat"),
            ("aBCd", "ABCd"),
            ("a_b", "AB"),
            ("x", "X"),
            ("_", "__"),
            ("__", "___"),
            ("a-", "A-"),
            ("fooBAR", "FooBAR"),
            ("ABCDE", "Abcde"),
            ("aBCDE", "ABCDE"),
            ("AbCDeFGH", "AbCDeFGH"),
            (" complex -case ", " Complex Case "),
            (
                "FROM CamelCase to snake/kebab-case",
                "FromCamelCaseToSnake/kebabCase",
            ),
            ("a__b", "A_B"),
            ("É_é", "ÉÉ"),
            ("1a_2b", "1a2b"),
            ("A1BC", "A1BC"),
            ("", ""),
        ];
        for (i, o) in camel {
            assert_eq!(st("camelcase", &[t(i)]), o, "camelcase {i:?}");
        }
        let snake = [
            ("HelloWorld", "hello_world"),
            ("helloWorld", "hello_world"),
            ("HTTPServer", "http_server"),
            ("hello-world foo_bar", "hello_world_foo_bar"),
            ("ABC123Def", "abc123_def"),
            ("  Hello  World  ", "__hello__world__"),
            ("http2xx", "http_2xx"),
            ("HTTP20xOK", "http_20x_ok"),
            ("Duration2m3s", "duration_2m3s"),
            ("Bld4Floor3rd", "bld4_floor_3rd"),
            ("a.b/c", "a.b/c"),
            ("NoHTTPS", "no_https"),
            ("GO-PATH", "go_path"),
            ("snake_case_1", "snake_case_1"),
            ("a1_b2", "a1_b2"),
            ("aB", "a_b"),
            ("ÉtéHiver", "été_hiver"),
            ("a  b", "a__b"),
            ("--a--", "__a__"),
            ("x9", "x9"),
            ("9x", "9x"),
            ("ABc", "a_bc"),
            ("a-B", "a_b"),
            ("A_B", "a_b"),
            ("version2.0", "version2.0"),
            ("1_a", "1_a"),
            ("a1-B", "a1_b"),
            ("HTTP2xx", "http_2xx"),
            ("héllo Wörld", "héllo_wörld"),
            ("x.Y", "x.y"),
            ("日本Go", "日本_go"),
            ("ABC", "abc"),
            ("A", "a"),
            ("aB1", "a_b1"),
        ];
        for (i, o) in snake {
            assert_eq!(st("snakecase", &[t(i)]), o, "snakecase {i:?}");
        }
        let kebab = [
            ("HelloWorld", "hello-world"),
            ("HTTPServer", "http-server"),
            ("hello_world Foo", "hello-world-foo"),
            ("A1B2", "a1-b2"),
            ("fooBAR", "foo-bar"),
            ("Hello World_x", "hello-world-x"),
        ];
        for (i, o) in kebab {
            assert_eq!(st("kebabcase", &[t(i)]), o, "kebabcase {i:?}");
        }
    }

    #[test]
    fn wrap_and_indent() {
        assert_eq!(
            st("wrap", &[n(5), t("hello world foo bar")]),
            "hello\nworld\nfoo\nbar"
        );
        assert_eq!(st("wrap", &[n(3), t("abcdefgh ij")]), "abcdefgh\nij");
        assert_eq!(
            st("wrap", &[n(5), t("hello\nworld foo")]),
            "hello\nworld\nfoo"
        );
        assert_eq!(st("wrap", &[n(0), t("ab cd")]), "ab\ncd");
        assert_eq!(
            st("wrap", &[n(5), t("  hello   world  ")]),
            "hello\nworld\n "
        );
        assert_eq!(
            st("wrapWith", &[n(5), t("\t"), t("hello world foo bar")]),
            "hello\tworld\tfoo\tbar"
        );
        assert_eq!(
            st("wrapWith", &[n(3), t("X"), t("abcdefgh ij")]),
            "abcXdefXghXij"
        );
        assert_eq!(st("wrapWith", &[n(0), t(""), t("ab cd")]), "a\nb\nc\nd");
        assert_eq!(
            st("wrapWith", &[n(4), t(""), t("abcdefghij kl")]),
            "abcd\nefgh\nij\nkl"
        );
        assert_eq!(st("indent", &[n(2), t("a\nb\n")]), "  a\n  b\n  ");
        assert_eq!(st("nindent", &[n(2), t("a\nb")]), "\n  a\n  b");
        assert_eq!(st("indent", &[n(2), t("")]), "  ");
        assert_eq!(
            run("indent", &[n(-2), t("x")]).unwrap_err(),
            "strings: negative Repeat count"
        );
        assert_eq!(
            run("repeat", &[n(-1), t("x")]).unwrap_err(),
            "strings: negative Repeat count"
        );
        assert_eq!(st("repeat", &[n(3), t("ab")]), "ababab");
    }

    #[test]
    fn quoting() {
        let big = Value::Number("1000000".into());
        assert_eq!(
            st("quote", &[Value::Nil, n(1), big.clone()]),
            "\"1\" \"1000000\""
        );
        assert_eq!(st("quote", &[t("a\"b")]), "\"a\\\"b\"");
        assert_eq!(st("quote", &[]), "");
        assert_eq!(
            st("quote", &[Value::Float(1.5), Value::Bool(true)]),
            "\"1.5\" \"true\""
        );
        assert_eq!(st("squote", &[n(1), Value::Nil, t("x")]), "'1' 'x'");
        assert_eq!(st("cat", &[t("a"), n(1), Value::Nil, t("b")]), "a 1 b");
        assert_eq!(st("cat", &[t(""), t("")]), " ");
        assert_eq!(st("cat", &[Value::Nil]), "");
    }

    #[test]
    fn predicates_and_replace() {
        assert_eq!(
            run("contains", &[t("ell"), t("hello")]).unwrap(),
            Value::Bool(true)
        );
        assert_eq!(
            run("hasPrefix", &[t("he"), t("hello")]).unwrap(),
            Value::Bool(true)
        );
        assert_eq!(
            run("hasSuffix", &[t("x"), t("hello")]).unwrap(),
            Value::Bool(false)
        );
        assert_eq!(st("replace", &[t("a"), t("b"), t("banana")]), "bbnbnb");
        assert_eq!(st("replace", &[t(""), t("-"), t("abc")]), "-a-b-c-");
        assert_eq!(st("plural", &[t("one"), t("many"), n(1)]), "one");
        assert_eq!(st("plural", &[t("one"), t("many"), n(0)]), "many");
        assert_eq!(st("trim", &[t("  a b \n\t")]), "a b");
        assert_eq!(st("trimAll", &[t("xy"), t("xyaxbyx")]), "axb");
        assert_eq!(st("trimPrefix", &[t("ab"), t("ababc")]), "abc");
        assert_eq!(st("trimSuffix", &[t("c"), t("abcc")]), "abc");
    }

    #[test]
    fn splitting_and_joining() {
        let show = |v: Value| gofmt::sprint(&v);
        let m = run("split", &[t(","), t("a,b,,c")]).unwrap();
        assert_eq!(m.type_name(), "map[string]string");
        assert_eq!(show(m), "map[_0:a _1:b _2: _3:c]");
        assert_eq!(
            show(run("split", &[t(""), t("abc")]).unwrap()),
            "map[_0:a _1:b _2:c]"
        );
        let l = run("splitList", &[t(","), t("a,b,,c")]).unwrap();
        assert_eq!(l.type_name(), "[]string");
        assert_eq!(show(l), "[a b  c]");
        assert_eq!(
            show(run("splitn", &[t(","), n(2), t("a,b,c")]).unwrap()),
            "map[_0:a _1:b,c]"
        );
        assert_eq!(
            show(run("splitn", &[t(","), n(0), t("a,b,c")]).unwrap()),
            "map[]"
        );
        assert_eq!(
            show(run("splitn", &[t(","), n(-1), t("a,b,c")]).unwrap()),
            "map[_0:a _1:b _2:c]"
        );
        let mixed = Value::list(vec![n(1), Value::Nil, t("a"), Value::Float(2.5)]);
        assert_eq!(st("join", &[t("-"), mixed]), "1-a-2.5");
        assert_eq!(st("join", &[t(","), Value::Nil]), "");
        assert_eq!(st("join", &[t(","), n(5)]), "5");
        let l = Value::list(vec![t("b"), t("a"), n(10), n(2), Value::Nil]);
        assert_eq!(show(run("sortAlpha", &[l]).unwrap()), "[10 2 a b]");
        assert_eq!(show(run("sortAlpha", &[Value::Nil]).unwrap()), "[<nil>]");
        assert_eq!(show(run("sortAlpha", &[n(3)]).unwrap()), "[3]");
        let l = Value::list(vec![
            n(1),
            Value::Nil,
            t("a"),
            Value::Float(2.5),
            Value::Bool(true),
        ]);
        let s = run("toStrings", &[l]).unwrap();
        assert_eq!(s.type_name(), "[]string");
        assert_eq!(show(s), "[1 a 2.5 true]");
        assert_eq!(show(run("toStrings", &[Value::Nil]).unwrap()), "[]");
        assert_eq!(st("toString", &[Value::Nil]), "<nil>");
        assert_eq!(st("toString", &[Value::Float(1e6)]), "1e+06");
        assert_eq!(
            st("toString", &[Value::Number("1000000".into())]),
            "1000000"
        );
    }

    #[test]
    fn random_shapes() {
        assert_eq!(st("randAlphaNum", &[n(10)]).len(), 10);
        assert!(
            st("randNumeric", &[n(8)])
                .bytes()
                .all(|b| b.is_ascii_digit())
        );
        assert!(
            st("randAlpha", &[n(8)])
                .bytes()
                .all(|b| b.is_ascii_alphabetic())
        );
        assert!(
            st("randAscii", &[n(8)])
                .bytes()
                .all(|b| (32..127).contains(&b))
        );
        assert_eq!(st("randNumeric", &[n(-1)]), "");
        let mut sh: Vec<char> = st("shuffle", &[t("hello")]).chars().collect();
        sh.sort();
        assert_eq!(sh, vec!['e', 'h', 'l', 'l', 'o']);
    }
}
