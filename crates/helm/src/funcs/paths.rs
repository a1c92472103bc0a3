//! Sprig's path and URL functions: `base`, `dir`, `ext`, `clean`, `isAbs`
//! (Go's `path`, slash-separated; the `os*` twins use the OS's separator,
//! also `/` here), `urlParse` and `urlJoin` (Go's `net/url`).

use std::collections::BTreeMap;

use super::{Funcs, Ty};
use crate::template::Value;

pub fn register(f: &mut Funcs) {
    for (name, os) in [
        ("base", "osBase"),
        ("dir", "osDir"),
        ("ext", "osExt"),
        ("clean", "osClean"),
    ] {
        let body: super::Body = match name {
            "base" => |_, a| Ok(Value::str(base(a[0].as_str().unwrap_or("")))),
            "dir" => |_, a| Ok(Value::str(dir(a[0].as_str().unwrap_or("")))),
            "ext" => |_, a| Ok(Value::str(ext(a[0].as_str().unwrap_or("")))),
            _ => |_, a| Ok(Value::str(clean(a[0].as_str().unwrap_or("")))),
        };
        f.add(name, &[Ty::Str], body);
        f.add(os, &[Ty::Str], body);
    }
    f.add("isAbs", &[Ty::Str], |_, a| {
        Ok(Value::Bool(a[0].as_str().unwrap_or("").starts_with('/')))
    });
    f.add("osIsAbs", &[Ty::Str], |_, a| {
        Ok(Value::Bool(a[0].as_str().unwrap_or("").starts_with('/')))
    });
    f.add("urlParse", &[Ty::Str], |_, a| {
        url_parse(a[0].as_str().unwrap_or(""))
    });
    f.add("urlJoin", &[Ty::Map], |_, a| {
        Ok(Value::str(url_join(&a[0])))
    });
}

/// Go's `path.Clean`: the shortest equivalent path, lexically.
pub fn clean(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let rooted = p.starts_with('/');
    let mut out: Vec<&str> = vec![];
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if out.last().is_some_and(|l| *l != "..") {
                    out.pop();
                } else if !rooted {
                    out.push("..");
                }
            }
            x => out.push(x),
        }
    }
    let joined = out.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

/// Go's `path.Base`: the last element, trailing slashes removed.
pub fn base(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let t = p.trim_end_matches('/');
    if t.is_empty() {
        return "/".into();
    }
    t.rsplit('/').next().unwrap_or(t).to_string()
}

/// Go's `path.Dir`: all but the last element, cleaned.
pub fn dir(p: &str) -> String {
    let cut = p.rfind('/').map(|i| i + 1).unwrap_or(0);
    clean(&p[..cut])
}

/// Go's `path.Ext`: the suffix from the last dot of the last element.
pub fn ext(p: &str) -> String {
    for (i, c) in p.char_indices().rev() {
        match c {
            '/' => break,
            '.' => return p[i..].to_string(),
            _ => {}
        }
    }
    String::new()
}

/// Go's `url.PathUnescape`, as `url.URL.Path` holds a decoded path.
fn unescape(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s
                .get(i + 1..i + 3)
                .filter(|h| h.len() == 2 && h.bytes().all(|c| c.is_ascii_hexdigit()));
            let Some(h) = hex else {
                let bad: String = s[i..].chars().take(3).collect();
                return Err(format!(
                    "invalid URL escape {}",
                    crate::template::gofmt::quote(&bad)
                ));
            };
            out.push(u8::from_str_radix(h, 16).unwrap());
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Sprig's `urlParse`: the parts of a URL as a dict.
fn url_parse(raw: &str) -> Result<Value, String> {
    let fail = |e: String| {
        format!(
            "unable to parse url: parse {}: {e}",
            crate::template::gofmt::quote(raw)
        )
    };
    let (rest, fragment) = match raw.split_once('#') {
        Some((r, f)) => (r, unescape(f).map_err(fail)?),
        None => (raw, String::new()),
    };
    let (rest, query) = match rest.split_once('?') {
        Some((r, q)) => (r, q.to_string()),
        None => (rest, String::new()),
    };
    // scheme: letters first, then letters, digits, + - .
    let (scheme, rest) = match rest.find(':') {
        Some(i)
            if i > 0
                && rest[..i].starts_with(|c: char| c.is_ascii_alphabetic())
                && rest[..i]
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) =>
        {
            (rest[..i].to_ascii_lowercase(), &rest[i + 1..])
        }
        Some(0) => return Err(fail("missing protocol scheme".into())),
        _ => (String::new(), rest),
    };
    let (mut userinfo, mut host, mut path, mut opaque) =
        (String::new(), String::new(), String::new(), String::new());
    if let Some(after) = rest.strip_prefix("//") {
        let end = after.find('/').unwrap_or(after.len());
        let authority = &after[..end];
        path = unescape(&after[end..]).map_err(fail)?;
        match authority.rsplit_once('@') {
            Some((u, h)) => {
                userinfo = u.to_string();
                host = h.to_string();
            }
            None => host = authority.to_string(),
        }
    } else if !scheme.is_empty() && !rest.starts_with('/') {
        opaque = rest.to_string();
    } else {
        path = unescape(rest).map_err(fail)?;
    }
    let hostname = if host.starts_with('[') {
        host.split(']')
            .next()
            .unwrap_or("")
            .trim_start_matches('[')
            .to_string()
    } else {
        host.rsplit_once(':')
            .map(|(h, _)| h.to_string())
            .unwrap_or_else(|| host.clone())
    };
    let m: BTreeMap<String, Value> = [
        ("scheme", scheme),
        ("host", host),
        ("hostname", hostname),
        ("path", path),
        ("query", query),
        ("opaque", opaque),
        ("fragment", fragment),
        ("userinfo", userinfo),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), Value::str(v)))
    .collect();
    Ok(Value::map(m))
}

/// Go's path escaping in `url.URL.String()`.
fn escape_path(p: &str) -> String {
    let mut out = String::new();
    for b in p.bytes() {
        match b {
            b'a'..=b'z'
            | b'A'..=b'Z'
            | b'0'..=b'9'
            | b'-'
            | b'_'
            | b'.'
            | b'~'
            | b'/'
            | b'$'
            | b'&'
            | b'+'
            | b','
            | b';'
            | b'='
            | b':'
            | b'@'
            | b'!'
            | b'\''
            | b'('
            | b')'
            | b'*' => out.push(b as char),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Sprig's `urlJoin`: a URL from `urlParse`'s dict.
fn url_join(d: &Value) -> String {
    let get = |k: &str| {
        d.get(k)
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default()
    };
    let (scheme, host, path, query, opaque, fragment, userinfo) = (
        get("scheme"),
        get("host"),
        get("path"),
        get("query"),
        get("opaque"),
        get("fragment"),
        get("userinfo"),
    );
    let mut s = String::new();
    if !scheme.is_empty() {
        s.push_str(&scheme);
        s.push(':');
    }
    if !opaque.is_empty() {
        s.push_str(&opaque);
    } else {
        if !scheme.is_empty() || !host.is_empty() || !userinfo.is_empty() {
            if !host.is_empty() || !path.is_empty() || !userinfo.is_empty() {
                s.push_str("//");
            }
            if !userinfo.is_empty() {
                s.push_str(&userinfo);
                s.push('@');
            }
            s.push_str(&host);
        }
        if !path.is_empty() && !path.starts_with('/') && !host.is_empty() {
            s.push('/');
        }
        s.push_str(&escape_path(&path));
    }
    if !query.is_empty() {
        s.push('?');
        s.push_str(&query);
    }
    if !fragment.is_empty() {
        s.push('#');
        s.push_str(&escape_path(&fragment));
    }
    s
}
