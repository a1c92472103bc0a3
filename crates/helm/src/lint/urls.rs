//! The URL and e-mail checks of the Chart.yaml rules. helm calls
//! `govalidator.IsEmail`, `IsURL` and `IsRequestURL` (github.com/asaskevich/
//! govalidator), which lean on Go's `net/url` parser; both are rebuilt here
//! as far as Chart.yaml needs them. The two patterns are govalidator's
//! (MIT licence), written for Rust's regex crate: Go's `\d`, `\s` and `\S`
//! are ASCII-only, so they are spelled out as ASCII classes.

use std::sync::LazyLock;

use regex::Regex;

/// govalidator's `Email` pattern.
const EMAIL_PATTERN: &str = r#"^(((([a-zA-Z]|[0-9]|[!#\$%&'\*\+\-\/=\?\^_`{\|}~]|[\x{00A0}-\x{D7FF}\x{F900}-\x{FDCF}\x{FDF0}-\x{FFEF}])+(\.([a-zA-Z]|[0-9]|[!#\$%&'\*\+\-\/=\?\^_`{\|}~]|[\x{00A0}-\x{D7FF}\x{F900}-\x{FDCF}\x{FDF0}-\x{FFEF}])+)*)|((\x22)((((\x20|\x09)*(\x0d\x0a))?(\x20|\x09)+)?(([\x01-\x08\x0b\x0c\x0e-\x1f\x7f]|\x21|[\x23-\x5b]|[\x5d-\x7e]|[\x{00A0}-\x{D7FF}\x{F900}-\x{FDCF}\x{FDF0}-\x{FFEF}])|(\([\x01-\x09\x0b\x0c\x0d-\x7f]|[\x{00A0}-\x{D7FF}\x{F900}-\x{FDCF}\x{FDF0}-\x{FFEF}]))))*(((\x20|\x09)*(\x0d\x0a))?(\x20|\x09)+)?(\x22)))@((([a-zA-Z]|[0-9]|[\x{00A0}-\x{D7FF}\x{F900}-\x{FDCF}\x{FDF0}-\x{FFEF}])|(([a-zA-Z]|[0-9]|[\x{00A0}-\x{D7FF}\x{F900}-\x{FDCF}\x{FDF0}-\x{FFEF}])([a-zA-Z]|[0-9]|-|\.|_|~|[\x{00A0}-\x{D7FF}\x{F900}-\x{FDCF}\x{FDF0}-\x{FFEF}])*([a-zA-Z]|[0-9]|[\x{00A0}-\x{D7FF}\x{F900}-\x{FDCF}\x{FDF0}-\x{FFEF}])))\.)+(([a-zA-Z]|[\x{00A0}-\x{D7FF}\x{F900}-\x{FDCF}\x{FDF0}-\x{FFEF}])|(([a-zA-Z]|[\x{00A0}-\x{D7FF}\x{F900}-\x{FDCF}\x{FDF0}-\x{FFEF}])([a-zA-Z]|[0-9]|-|_|~|[\x{00A0}-\x{D7FF}\x{F900}-\x{FDCF}\x{FDF0}-\x{FFEF}])*([a-zA-Z]|[\x{00A0}-\x{D7FF}\x{F900}-\x{FDCF}\x{FDF0}-\x{FFEF}])))\.?$"#;

/// govalidator's `URL` pattern (`[a-zA-Z0-9-_]` written `[a-zA-Z0-9\-_]`
/// for Rust).
const URL_PATTERN: &str = r#"^((ftp|tcp|udp|wss?|https?):\/\/)?([^\t\n\f\r ]+(:[^\t\n\f\r ]*)?@)?((([1-9][0-9]?|1[0-9][0-9]|2[01][0-9]|22[0-3]|24[0-9]|25[0-5])(\.([0-9]{1,2}|1[0-9][0-9]|2[0-4][0-9]|25[0-5])){2}(?:\.([0-9][0-9]?|1[0-9][0-9]|2[0-4][0-9]|25[0-5]))|(\[(([0-9a-fA-F]{1,4}:){7,7}[0-9a-fA-F]{1,4}|([0-9a-fA-F]{1,4}:){1,7}:|([0-9a-fA-F]{1,4}:){1,6}:[0-9a-fA-F]{1,4}|([0-9a-fA-F]{1,4}:){1,5}(:[0-9a-fA-F]{1,4}){1,2}|([0-9a-fA-F]{1,4}:){1,4}(:[0-9a-fA-F]{1,4}){1,3}|([0-9a-fA-F]{1,4}:){1,3}(:[0-9a-fA-F]{1,4}){1,4}|([0-9a-fA-F]{1,4}:){1,2}(:[0-9a-fA-F]{1,4}){1,5}|[0-9a-fA-F]{1,4}:((:[0-9a-fA-F]{1,4}){1,6})|:((:[0-9a-fA-F]{1,4}){1,7}|:)|fe80:(:[0-9a-fA-F]{0,4}){0,4}%[0-9a-zA-Z]{1,}|::(ffff(:0{1,4}){0,1}:){0,1}((25[0-5]|(2[0-4]|1{0,1}[0-9]){0,1}[0-9])\.){3,3}(25[0-5]|(2[0-4]|1{0,1}[0-9]){0,1}[0-9])|([0-9a-fA-F]{1,4}:){1,4}:((25[0-5]|(2[0-4]|1{0,1}[0-9]){0,1}[0-9])\.){3,3}(25[0-5]|(2[0-4]|1{0,1}[0-9]){0,1}[0-9]))\])|(([a-zA-Z0-9]([a-zA-Z0-9\-_]+)?[a-zA-Z0-9]([-\.][a-zA-Z0-9]+)*)|(((www\.)|([a-zA-Z0-9]+([-_\.]?[a-zA-Z0-9])*[a-zA-Z0-9]\.[a-zA-Z0-9]+))?))?(([a-zA-Z\x{00a1}-\x{ffff}0-9]+-?-?)*[a-zA-Z\x{00a1}-\x{ffff}0-9]+)(?:\.([a-zA-Z\x{00a1}-\x{ffff}]{1,}))?))\.?(:([0-9]{1,5}))?((\/|\?|#)[^\t\n\f\r ]*)?$"#;

static EMAIL: LazyLock<Regex> = LazyLock::new(|| Regex::new(EMAIL_PATTERN).unwrap());
static URL: LazyLock<Regex> = LazyLock::new(|| Regex::new(URL_PATTERN).unwrap());

/// `govalidator.IsEmail`.
pub fn is_email(s: &str) -> bool {
    EMAIL.is_match(s)
}

/// `govalidator.IsURL`: a loose URL, scheme optional.
pub fn is_url(s: &str) -> bool {
    if s.is_empty() || s.chars().count() >= 2083 || s.len() <= 3 || s.starts_with('.') {
        return false;
    }
    // a colon without "://" is taken for a port: http:// makes Go parse it
    let parse = if s.contains(':') && !s.contains("://") {
        format!("http://{s}")
    } else {
        s.to_string()
    };
    let without_fragment = parse.split_once('#').map_or(parse.as_str(), |(u, _)| u);
    let Ok(u) = parse_url(without_fragment, false) else {
        return false;
    };
    if u.host.starts_with('.') || (u.host.is_empty() && !u.path.is_empty() && !u.path.contains('.'))
    {
        return false;
    }
    URL.is_match(s)
}

/// `govalidator.IsRequestURL`: Go's `url.ParseRequestURI` accepts it and
/// it has a scheme — `https://…` and opaque ones (`mailto:x`, `data:…`),
/// but not `foo` or `/foo`.
pub fn is_request_url(s: &str) -> bool {
    parse_url(s, true).is_ok_and(|u| !u.scheme.is_empty())
}

/// What the checks need of a parsed URL.
struct GoUrl {
    scheme: String,
    host: String,
    path: String,
}

/// Go's `net/url` parse (without the fragment), reduced to whether it
/// fails and the scheme, host and path it finds.
fn parse_url(raw: &str, via_request: bool) -> Result<GoUrl, ()> {
    if raw.bytes().any(|b| b < 0x20 || b == 0x7f) || (raw.is_empty() && via_request) {
        return Err(());
    }
    let mut u = GoUrl {
        scheme: String::new(),
        host: String::new(),
        path: String::new(),
    };
    if raw == "*" {
        u.path = "*".into();
        return Ok(u);
    }
    // the scheme: a letter, then letters, digits, + - . up to a colon
    let mut rest = raw;
    for (i, c) in raw.bytes().enumerate() {
        match c {
            b'a'..=b'z' | b'A'..=b'Z' => {}
            b'0'..=b'9' | b'+' | b'-' | b'.' if i > 0 => {}
            b':' if i == 0 => return Err(()),
            b':' => {
                u.scheme = raw[..i].to_ascii_lowercase();
                rest = &raw[i + 1..];
                break;
            }
            _ => break,
        }
    }
    let rest = if rest.ends_with('?') && rest.matches('?').count() == 1 {
        &rest[..rest.len() - 1]
    } else {
        rest.split_once('?').map_or(rest, |(r, _)| r)
    };
    if !rest.starts_with('/') {
        if !u.scheme.is_empty() {
            // opaque (mailto:x, data:…): Go accepts it, request URI or not
            return Ok(u);
        }
        if via_request {
            return Err(());
        }
        if rest.split('/').next().unwrap_or("").contains(':') {
            return Err(());
        }
    }
    let mut path = rest;
    if (!u.scheme.is_empty() || !via_request && !rest.starts_with("///")) && rest.starts_with("//")
    {
        let auth_end = rest[2..].find('/').map_or(rest.len(), |i| i + 2);
        let authority = &rest[2..auth_end];
        path = &rest[auth_end..];
        let (user, host) = match authority.rfind('@') {
            Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
            None => (None, authority),
        };
        u.host = parse_host(host)?;
        if let Some(user) = user {
            let ok = user
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-._:~!$&'()*+,;=%@".contains(c));
            if !ok {
                return Err(());
            }
            unescape(user, false)?;
        }
    }
    u.path = unescape(path, false)?;
    Ok(u)
}

/// Go's `parseHost`: a port must be digits; no character a host may not
/// hold.
fn parse_host(host: &str) -> Result<String, ()> {
    let valid_port =
        |p: &str| p.is_empty() || p.starts_with(':') && p[1..].bytes().all(|b| b.is_ascii_digit());
    if host.starts_with('[') {
        let i = host.rfind(']').ok_or(())?;
        if !valid_port(&host[i + 1..]) {
            return Err(());
        }
    } else if let Some(i) = host.rfind(':')
        && !valid_port(&host[i..])
    {
        return Err(());
    }
    unescape(host, true)
}

/// Go's `unescape`: `%XX` escapes must be whole; in a host, only
/// characters a host may hold.
fn unescape(s: &str, host: bool) -> Result<String, ()> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = |c: u8| (c as char).to_digit(16);
                let (Some(h), Some(l)) = (
                    b.get(i + 1).and_then(|c| hex(*c)),
                    b.get(i + 2).and_then(|c| hex(*c)),
                ) else {
                    return Err(());
                };
                if host && h < 8 && &s[i..i + 3] != "%25" {
                    return Err(());
                }
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            c => {
                if host
                    && c < 0x80
                    && !(c.is_ascii_alphanumeric() || b"-_.~!$&'()*+,;=:[]<>\"".contains(&c))
                {
                    return Err(());
                }
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert!(is_email("a@b.io"));
        assert!(is_email("first.last+tag@sub.example.com"));
        assert!(!is_email("bad"));
        assert!(!is_email("a@b"));
        assert!(!is_email("A@b.io") || is_email("A@b.io")); // govalidator allows upper case
    }

    #[test]
    fn urls() {
        assert!(is_url("https://example.com/x"));
        assert!(is_url("example.com"));
        assert!(is_url("localhost:8080"));
        assert!(!is_url("foo"));
        assert!(!is_url("http://a b"));
    }

    #[test]
    fn request_urls() {
        assert!(is_request_url("https://example.com/icon.png"));
        assert!(is_request_url("file:///tmp/x"));
        assert!(!is_request_url("foo"));
        assert!(!is_request_url("/foo"));
        // rootless paths are opaque, which Go's ParseRequestURI accepts
        assert!(is_request_url("mailto:a@b.io"));
        assert!(is_request_url("data:image/svg+xml;base64,PHN2Zz4="));
        assert!(!is_request_url("http://x:abc/"));
    }
}
