//! Sprig's regular-expression functions, with Go's RE2 dialect.
//!
//! Go's `regexp` and Rust's `regex` are both RE2-like, but not the same
//! language: in Go `\d`, `\w`, `\s` and `\b` are ASCII-only, `a{` and
//! `\<` are literals, `[a[b]` is a class with `[` in it. So a Go pattern
//! is first parsed here, Go's way (reporting Go's errors with Go's words,
//! "error parsing regexp: missing closing ): `(`"), and translated into an
//! equivalent Rust pattern. Matching then follows Go's rules for empty
//! matches next to a previous match, and `$1`/`${name}` expansion is Go's
//! (`$1x` names the group `1x`).
//!
//! As in Sprig, the plain variants panic on a bad pattern (`regexp:
//! Compile(...)`), except `regexMatch`, which is then just false; the
//! `must` variants return the error.

use regex::Regex;

use super::{Funcs, Ty};
use crate::template::{Value, gofmt};

pub fn register(f: &mut Funcs) {
    use Ty::{Int, Str};
    f.add("regexMatch", &[Str, Str], |_, a| {
        Ok(Value::Bool(
            go_regex(s(&a[0])).is_ok_and(|re| re.is_match(s(&a[1]))),
        ))
    });
    f.add("mustRegexMatch", &[Str, Str], |_, a| {
        Ok(Value::Bool(go_regex(s(&a[0]))?.is_match(s(&a[1]))))
    });
    f.add("regexFindAll", &[Str, Str, Int], |_, a| {
        find_all(&must(&a[0])?, &a[1], &a[2])
    });
    f.add("mustRegexFindAll", &[Str, Str, Int], |_, a| {
        find_all(&go_regex(s(&a[0]))?, &a[1], &a[2])
    });
    f.add("regexFind", &[Str, Str], |_, a| {
        Ok(find(&must(&a[0])?, s(&a[1])))
    });
    f.add("mustRegexFind", &[Str, Str], |_, a| {
        Ok(find(&go_regex(s(&a[0]))?, s(&a[1])))
    });
    f.add("regexReplaceAll", &[Str, Str, Str], |_, a| {
        Ok(Value::str(replace_all(
            &must(&a[0])?,
            s(&a[1]),
            s(&a[2]),
            true,
        )))
    });
    f.add("mustRegexReplaceAll", &[Str, Str, Str], |_, a| {
        Ok(Value::str(replace_all(
            &go_regex(s(&a[0]))?,
            s(&a[1]),
            s(&a[2]),
            true,
        )))
    });
    f.add("regexReplaceAllLiteral", &[Str, Str, Str], |_, a| {
        Ok(Value::str(replace_all(
            &must(&a[0])?,
            s(&a[1]),
            s(&a[2]),
            false,
        )))
    });
    f.add("mustRegexReplaceAllLiteral", &[Str, Str, Str], |_, a| {
        Ok(Value::str(replace_all(
            &go_regex(s(&a[0]))?,
            s(&a[1]),
            s(&a[2]),
            false,
        )))
    });
    f.add("regexSplit", &[Str, Str, Int], |_, a| {
        split(&must(&a[0])?, &a[1], &a[2])
    });
    f.add("mustRegexSplit", &[Str, Str, Int], |_, a| {
        split(&go_regex(s(&a[0]))?, &a[1], &a[2])
    });
    f.add("regexQuoteMeta", &[Str], |_, a| {
        Ok(Value::str(quote_meta(s(&a[0]))))
    });
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

fn int(v: &Value) -> i64 {
    match v {
        Value::Int(n) | Value::Int64(n) => *n,
        _ => 0,
    }
}

/// `regexp.MustCompile`: the panic message Go's template reports.
fn must(pat: &Value) -> Result<Regex, String> {
    let p = s(pat);
    go_regex(p).map_err(|e| format!("regexp: Compile({}): {e}", backquote(p)))
}

/// `regexp.Compile`'s quoting of the pattern in its panic: back quotes
/// when the text allows them, else `strconv.Quote`.
fn backquote(p: &str) -> String {
    let can = p
        .chars()
        .all(|c| c != '`' && c != '\u{feff}' && (c == '\t' || !c.is_control()));
    if can {
        format!("`{p}`")
    } else {
        gofmt::quote(p)
    }
}

/// Go's `regexp.QuoteMeta`.
pub fn quote_meta(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if r"\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Compiles a Go (RE2) pattern: Go's errors, Go's meaning.
pub fn go_regex(pat: &str) -> Result<Regex, String> {
    let rust = Translator::new(pat)
        .run()
        .map_err(|(code, expr)| format!("error parsing regexp: {code}: `{expr}`"))?;
    Regex::new(&rust).map_err(|e| {
        let first = e.to_string();
        let msg = first
            .lines()
            .last()
            .unwrap_or("")
            .trim_start_matches("error: ")
            .to_string();
        format!("error parsing regexp: {msg}: `{pat}`")
    })
}

type GoErr = (&'static str, String);

const MISSING_PAREN: &str = "missing closing )";
const UNEXPECTED_PAREN: &str = "unexpected )";
const MISSING_BRACKET: &str = "missing closing ]";
const MISSING_REPEAT_ARG: &str = "missing argument to repetition operator";
const NESTED_REPEAT: &str = "invalid nested repetition operator";
const REPEAT_SIZE: &str = "invalid repeat count";
const TRAILING_BACKSLASH: &str = "trailing backslash at end of expression";
const INVALID_ESCAPE: &str = "invalid escape sequence";
const PERL_OP: &str = "invalid or unsupported Perl syntax";
const NAMED_CAPTURE: &str = "invalid named capture";
const CLASS_RANGE: &str = "invalid character class range";

/// A walk over a Go pattern that checks it as Go's parser does and writes
/// the equivalent Rust pattern.
struct Translator<'a> {
    pat: &'a str,
    pos: usize,
    out: String,
}

/// What was written last, for the repetition checks.
#[derive(PartialEq, Clone, Copy)]
enum Last {
    /// Start of pattern, `(` or `|`: a repetition has no argument.
    Marker,
    Atom,
    /// A repetition operator, starting at this byte of the pattern.
    Repeat(usize),
}

fn hex(c: char) -> String {
    format!("\\x{{{:x}}}", c as u32)
}

const DIGIT: &str = "0-9";
const WORD: &str = "0-9A-Za-z_";
const SPACE: &str = "\\t\\n\\x0C\\r ";

impl<'a> Translator<'a> {
    fn new(pat: &'a str) -> Self {
        Translator {
            pat,
            pos: 0,
            out: String::new(),
        }
    }

    fn rest(&self) -> &'a str {
        &self.pat[self.pos..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn run(mut self) -> Result<String, GoErr> {
        let mut last = Last::Marker;
        let mut depth = 0usize;
        while let Some(c) = self.peek() {
            let start = self.pos;
            match c {
                '(' => {
                    if self.group()? {
                        depth += 1;
                    }
                    last = Last::Marker;
                }
                ')' => {
                    if depth == 0 {
                        return Err((UNEXPECTED_PAREN, self.pat.to_string()));
                    }
                    self.bump();
                    self.out.push(')');
                    depth -= 1;
                    last = Last::Atom;
                }
                '|' => {
                    self.bump();
                    self.out.push('|');
                    last = Last::Marker;
                }
                '*' | '+' | '?' | '{' => {
                    let op = if c == '{' {
                        self.counted()?
                    } else {
                        self.simple_repeat()
                    };
                    let Some(op) = op else {
                        // `{` that is not a repetition: a literal.
                        self.bump();
                        self.out.push_str("\\{");
                        last = Last::Atom;
                        continue;
                    };
                    let text = &self.pat[start..self.pos];
                    match last {
                        Last::Marker => return Err((MISSING_REPEAT_ARG, text.to_string())),
                        Last::Repeat(from) => {
                            return Err((NESTED_REPEAT, self.pat[from..self.pos].to_string()));
                        }
                        Last::Atom => {}
                    }
                    self.out.push_str(&op);
                    last = Last::Repeat(start);
                }
                '[' => {
                    self.class()?;
                    last = Last::Atom;
                }
                '\\' => {
                    self.escape()?;
                    last = Last::Atom;
                }
                '.' | '^' | '$' => {
                    self.bump();
                    self.out.push(c);
                    last = Last::Atom;
                }
                c => {
                    self.bump();
                    if c.is_alphanumeric() || c == ' ' {
                        self.out.push(c);
                    } else {
                        self.out.push_str(&hex(c));
                    }
                    last = Last::Atom;
                }
            }
        }
        if depth > 0 {
            return Err((MISSING_PAREN, self.pat.to_string()));
        }
        Ok(self.out)
    }

    /// `*`, `+`, `?`, each maybe followed by `?` (non-greedy).
    fn simple_repeat(&mut self) -> Option<String> {
        let c = self.bump()?;
        let mut op = c.to_string();
        if self.peek() == Some('?') {
            self.bump();
            op.push('?');
        }
        Some(op)
    }

    /// `{n}`, `{n,}`, `{n,m}` (maybe `?`); `None` if `{` starts no such
    /// thing (then Go takes it literally).
    fn counted(&mut self) -> Result<Option<String>, GoErr> {
        let rest = self.rest();
        let Some(close) = rest.find('}') else {
            return Ok(None);
        };
        let inner = &rest[1..close];
        let (lo, hi) = match inner.split_once(',') {
            Some((lo, hi)) => (lo, Some(hi)),
            None => (inner, None),
        };
        let num = |t: &str| -> Option<i64> {
            if t.is_empty()
                || !t.bytes().all(|b| b.is_ascii_digit())
                || t.len() > 1 && t.starts_with('0')
            {
                return None;
            }
            Some(t.parse::<i64>().unwrap_or(i64::MAX))
        };
        let Some(min) = num(lo) else {
            return Ok(None);
        };
        let max = match hi {
            None => Some(min),
            Some("") => None,
            Some(h) => match num(h) {
                Some(m) => Some(m),
                None => return Ok(None),
            },
        };
        let text = &rest[..=close];
        if min > 1000 || max.is_some_and(|m| m > 1000 || m < min) {
            return Err((REPEAT_SIZE, text.to_string()));
        }
        self.pos += close + 1;
        let mut op = text.to_string();
        if self.peek() == Some('?') {
            self.bump();
            op.push('?');
        }
        Ok(Some(op))
    }

    /// `(`, `(?flags)`, `(?flags:`, `(?P<name>`, `(?<name>`; false for
    /// `(?flags)`, which opens no group.
    fn group(&mut self) -> Result<bool, GoErr> {
        let start = self.pos;
        self.bump();
        if self.peek() != Some('?') {
            self.out.push('(');
            return Ok(true);
        }
        self.bump();
        let rest = self.rest();
        if rest.starts_with("P<") || rest.starts_with('<') {
            let skip = if rest.starts_with('P') { 2 } else { 1 };
            let Some(end) = rest.find('>') else {
                return Err((NAMED_CAPTURE, self.pat[start..].to_string()));
            };
            let name = &rest[skip..end];
            self.pos += end + 1;
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err((NAMED_CAPTURE, self.pat[start..self.pos].to_string()));
            }
            self.out.push_str(&format!("(?P<{name}>"));
            return Ok(true);
        }
        // Flags: [imsU]* with at most one '-', then ')' or ':'.
        let mut flags = String::new();
        let mut neg = false;
        let mut seen_flag = false;
        loop {
            let Some(c) = self.bump() else {
                return Err((MISSING_PAREN, self.pat.to_string()));
            };
            match c {
                'i' | 'm' | 's' | 'U' => {
                    flags.push(c);
                    seen_flag = true;
                }
                '-' if !neg => {
                    flags.push('-');
                    neg = true;
                    seen_flag = false;
                }
                ':' | ')' if !neg || seen_flag => {
                    if !(c == ')' && flags.is_empty()) {
                        self.out.push_str(&format!("(?{flags}{c}"));
                    }
                    return Ok(c == ':');
                }
                _ => return Err((PERL_OP, self.pat[start..self.pos].to_string())),
            }
        }
    }

    fn escape(&mut self) -> Result<(), GoErr> {
        let start = self.pos;
        self.bump();
        let Some(c) = self.bump() else {
            return Err((TRAILING_BACKSLASH, String::new()));
        };
        match c {
            'd' => self.out.push_str(&format!("[{DIGIT}]")),
            'D' => self.out.push_str(&format!("[^{DIGIT}]")),
            'w' => self.out.push_str(&format!("[{WORD}]")),
            'W' => self.out.push_str(&format!("[^{WORD}]")),
            's' => self.out.push_str(&format!("[{SPACE}]")),
            'S' => self.out.push_str(&format!("[^{SPACE}]")),
            'b' => self.out.push_str("(?-u:\\b)"),
            'B' => self.out.push_str("(?-u:\\B)"),
            'A' => self.out.push_str("\\A"),
            'z' => self.out.push_str("\\z"),
            'Q' => {
                let rest = self.rest();
                let (lit, skip) = match rest.find("\\E") {
                    Some(i) => (&rest[..i], i + 2),
                    None => (rest, rest.len()),
                };
                for ch in lit.chars() {
                    self.out.push_str(&hex(ch));
                }
                self.pos += skip;
            }
            _ => {
                let lit = self.escape_char(c, start)?;
                self.out.push_str(&lit);
            }
        }
        Ok(())
    }

    /// An escape that is valid inside and outside classes: a character
    /// (as a Rust escape) or a Unicode class. `c` has been consumed.
    fn escape_char(&mut self, c: char, start: usize) -> Result<String, GoErr> {
        let bad = |t: &Self| (INVALID_ESCAPE, t.pat[start..t.pos].to_string());
        Ok(match c {
            'a' => hex('\x07'),
            'f' => hex('\x0c'),
            't' => hex('\t'),
            'n' => hex('\n'),
            'r' => hex('\r'),
            'v' => hex('\x0b'),
            '0'..='7' => {
                // Octal: up to three digits (\0 and \1-\7 followed by digits).
                let mut v = c.to_digit(8).unwrap_or(0);
                if c != '0' && !self.peek().is_some_and(|d| ('0'..='7').contains(&d)) {
                    // \1 … \7 alone is a backreference: unsupported.
                    return Err(bad(self));
                }
                for _ in 0..2 {
                    match self.peek() {
                        Some(d @ '0'..='7') => {
                            self.bump();
                            v = v * 8 + d.to_digit(8).unwrap_or(0);
                        }
                        _ => break,
                    }
                }
                format!("\\x{{{v:x}}}")
            }
            'x' => {
                if self.peek() == Some('{') {
                    let rest = self.rest();
                    let Some(end) = rest.find('}') else {
                        self.pos = self.pat.len();
                        return Err(bad(self));
                    };
                    let digits = &rest[1..end];
                    self.pos += end + 1;
                    match u32::from_str_radix(digits, 16)
                        .ok()
                        .and_then(char::from_u32)
                    {
                        Some(ch) if !digits.is_empty() => hex(ch),
                        _ => return Err(bad(self)),
                    }
                } else {
                    let mut v = 0;
                    for _ in 0..2 {
                        match self.bump().and_then(|d| d.to_digit(16)) {
                            Some(d) => v = v * 16 + d,
                            None => return Err(bad(self)),
                        }
                    }
                    format!("\\x{{{v:x}}}")
                }
            }
            'p' | 'P' => {
                let name = if self.peek() == Some('{') {
                    let rest = self.rest();
                    let Some(end) = rest.find('}') else {
                        self.pos = self.pat.len();
                        return Err((CLASS_RANGE, self.pat[start..].to_string()));
                    };
                    let n = rest[1..end].to_string();
                    self.pos += end + 1;
                    n
                } else {
                    match self.bump() {
                        Some(ch) => ch.to_string(),
                        None => return Err(bad(self)),
                    }
                };
                let name = name.strip_prefix('^').map_or(name.clone(), str::to_string);
                let negate = (c == 'P') != self.pat[start..self.pos].contains("{^");
                let p = if negate { 'P' } else { 'p' };
                if name == "Any" {
                    return Ok(if negate {
                        "[^\\x{0}-\\x{10ffff}]".into()
                    } else {
                        "[\\x{0}-\\x{10ffff}]".into()
                    });
                }
                if name.is_empty()
                    || !name
                        .chars()
                        .all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
                    || Regex::new(&format!("\\p{{{name}}}")).is_err()
                {
                    return Err((CLASS_RANGE, self.pat[start..self.pos].to_string()));
                }
                format!("\\{p}{{{name}}}")
            }
            c if c.is_ascii() && !c.is_ascii_alphanumeric() && c != '_' => hex(c),
            _ => return Err(bad(self)),
        })
    }

    /// A bracketed class, Go's way: `]` first is literal, `[` inside is
    /// literal unless it starts `[:name:]`.
    fn class(&mut self) -> Result<(), GoErr> {
        let start = self.pos;
        self.bump();
        let missing = |t: &Self| (MISSING_BRACKET, t.pat[start..].to_string());
        let mut out = String::from("[");
        if self.peek() == Some('^') {
            self.bump();
            out.push('^');
        }
        let mut first = true;
        loop {
            let Some(c) = self.peek() else {
                return Err(missing(self));
            };
            if c == ']' && !first {
                self.bump();
                break;
            }
            first = false;
            let item_start = self.pos;
            // POSIX class.
            if c == '['
                && self.rest().starts_with("[:")
                && let Some(end) = self.rest()[2..].find(":]")
            {
                let name = &self.rest()[2..2 + end];
                let bare = name.strip_prefix('^').unwrap_or(name);
                const POSIX: [&str; 14] = [
                    "alnum", "alpha", "ascii", "blank", "cntrl", "digit", "graph", "lower",
                    "print", "punct", "space", "upper", "word", "xdigit",
                ];
                if !POSIX.contains(&bare) {
                    return Err((CLASS_RANGE, format!("[:{name}:]")));
                }
                out.push_str(&format!("[:{name}:]"));
                self.pos += 2 + end + 2;
                continue;
            }
            // One character (or a class escape), maybe a range lo-hi.
            let lo = match self.class_atom()? {
                Atom::Class(cls) => {
                    out.push_str(&cls);
                    continue;
                }
                Atom::Char(ch) => ch,
                Atom::End => return Err(missing(self)),
            };
            if self.peek() == Some('-')
                && !self.rest()[1..].starts_with(']')
                && self.rest().len() > 1
            {
                self.bump();
                let hi = match self.class_atom()? {
                    Atom::Char(ch) => ch,
                    Atom::Class(_) => {
                        return Err((CLASS_RANGE, self.pat[item_start..self.pos].to_string()));
                    }
                    Atom::End => return Err(missing(self)),
                };
                if hi < lo {
                    return Err((CLASS_RANGE, self.pat[item_start..self.pos].to_string()));
                }
                out.push_str(&format!("{}-{}", hex(lo), hex(hi)));
            } else {
                out.push_str(&hex(lo));
            }
        }
        out.push(']');
        self.out.push_str(&out);
        Ok(())
    }

    fn class_atom(&mut self) -> Result<Atom, GoErr> {
        let start = self.pos;
        let Some(c) = self.bump() else {
            return Ok(Atom::End);
        };
        if c != '\\' {
            return Ok(Atom::Char(c));
        }
        let Some(e) = self.bump() else {
            return Err((TRAILING_BACKSLASH, String::new()));
        };
        Ok(match e {
            'd' => Atom::Class(DIGIT.into()),
            'D' => Atom::Class(format!("[^{DIGIT}]")),
            'w' => Atom::Class(WORD.into()),
            'W' => Atom::Class(format!("[^{WORD}]")),
            's' => Atom::Class(SPACE.into()),
            'S' => Atom::Class(format!("[^{SPACE}]")),
            _ => {
                let lit = self.escape_char(e, start)?;
                match lit.strip_prefix("\\x{").and_then(|h| h.strip_suffix('}')) {
                    Some(h) => Atom::Char(
                        u32::from_str_radix(h, 16)
                            .ok()
                            .and_then(char::from_u32)
                            .unwrap_or('\0'),
                    ),
                    None => Atom::Class(lit),
                }
            }
        })
    }
}

enum Atom {
    Char(char),
    Class(String),
    End,
}

/// Go's `allMatches`: leftmost-first matches from left to right; an empty
/// match right after the previous match is skipped. Each match is the
/// spans of all groups.
fn all_matches(re: &Regex, s: &str, n: i64) -> Vec<Vec<Option<(usize, usize)>>> {
    let n = if n < 0 { s.len() as i64 + 1 } else { n };
    let mut out = Vec::new();
    let mut pos = 0usize;
    let mut prev_end: Option<usize> = None;
    let mut locs = re.capture_locations();
    while (out.len() as i64) < n && pos <= s.len() {
        let Some(m) = re.captures_read_at(&mut locs, s, pos) else {
            break;
        };
        let mut accept = true;
        if m.end() == pos {
            if Some(m.start()) == prev_end {
                accept = false;
            }
            pos += s[pos..].chars().next().map_or(1, char::len_utf8);
        } else {
            pos = m.end();
        }
        prev_end = Some(m.end());
        if accept {
            out.push((0..locs.len()).map(|i| locs.get(i)).collect());
        }
    }
    out
}

fn find_all(re: &Regex, s: &Value, n: &Value) -> Result<Value, String> {
    let text = self::s(s);
    let found = all_matches(re, text, int(n))
        .into_iter()
        .filter_map(|m| m[0].map(|(a, b)| text[a..b].to_string()))
        .collect();
    Ok(Value::str_list(found))
}

fn find(re: &Regex, s: &str) -> Value {
    Value::str(re.find(s).map_or("", |m| m.as_str()))
}

/// Go's `Regexp.Expand` of a replacement template.
fn expand(out: &mut String, template: &str, re: &Regex, src: &str, m: &[Option<(usize, usize)>]) {
    let mut t = template;
    while let Some(i) = t.find('$') {
        out.push_str(&t[..i]);
        t = &t[i + 1..];
        if let Some(rest) = t.strip_prefix('$') {
            out.push('$');
            t = rest;
            continue;
        }
        let (braced, body) = match t.strip_prefix('{') {
            Some(b) => (true, b),
            None => (false, t),
        };
        let len: usize = body
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .map(char::len_utf8)
            .sum();
        let name = &body[..len];
        let after = &body[len..];
        let rest = if braced {
            after.strip_prefix('}')
        } else {
            Some(after)
        };
        let (Some(rest), false) = (rest, name.is_empty()) else {
            out.push('$');
            continue;
        };
        t = rest;
        let num = if name.bytes().all(|b| b.is_ascii_digit()) && name.len() <= 8 {
            name.parse::<usize>().ok()
        } else {
            None
        };
        let group = match num {
            Some(k) => Some(k),
            None => re.capture_names().position(|n| n == Some(name)),
        };
        if let Some(Some((a, b))) = group.and_then(|g| m.get(g)) {
            out.push_str(&src[*a..*b]);
        }
    }
    out.push_str(t);
}

/// Go's `ReplaceAllString` (with `$` expansion) or
/// `ReplaceAllLiteralString`.
fn replace_all(re: &Regex, src: &str, repl: &str, expand_dollars: bool) -> String {
    let mut out = String::new();
    let mut last_end = 0usize;
    let mut pos = 0usize;
    let mut locs = re.capture_locations();
    while pos <= src.len() {
        let Some(m) = re.captures_read_at(&mut locs, src, pos) else {
            break;
        };
        out.push_str(&src[last_end..m.start()]);
        if m.end() > last_end || m.start() == 0 {
            if expand_dollars {
                let spans: Vec<_> = (0..locs.len()).map(|i| locs.get(i)).collect();
                expand(&mut out, repl, re, src, &spans);
            } else {
                out.push_str(repl);
            }
        }
        last_end = m.end();
        let width = src[pos..].chars().next().map_or(1, char::len_utf8);
        if pos + width > m.end() {
            pos += width;
        } else if pos + 1 > m.end() {
            pos += 1;
        } else {
            pos = m.end();
        }
    }
    if last_end <= src.len() {
        out.push_str(&src[last_end..]);
    }
    out
}

/// Go's `Regexp.Split`.
fn split(re: &Regex, s: &Value, n: &Value) -> Result<Value, String> {
    let text = self::s(s);
    let n = int(n);
    if n == 0 {
        return Ok(Value::str_list(vec![]));
    }
    if re.as_str().is_empty() && text.is_empty() {
        return Ok(Value::str_list(vec![]));
    }
    if text.is_empty() {
        return Ok(Value::str_list(vec![String::new()]));
    }
    let mut parts = Vec::new();
    let (mut beg, mut end) = (0usize, 0usize);
    for m in all_matches(re, text, n) {
        if n > 0 && parts.len() as i64 == n - 1 {
            break;
        }
        let Some((a, b)) = m[0] else { continue };
        end = a;
        if b != 0 {
            parts.push(text[beg..end].to_string());
        }
        beg = b;
    }
    if end != text.len() {
        parts.push(text[beg..].to_string());
    }
    Ok(Value::str_list(parts))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::funcs::call;

    fn run(name: &str, args: &[Value]) -> Result<Value, String> {
        call(&Funcs::helm(), name, args)
    }

    fn t(s: &str) -> Value {
        Value::str(s)
    }

    fn show(v: Result<Value, String>) -> String {
        gofmt::sprint(&v.unwrap())
    }

    #[test]
    fn matching() {
        assert_eq!(
            run("regexMatch", &[t("^[a-z]+$"), t("abc")]).unwrap(),
            Value::Bool(true)
        );
        assert_eq!(
            run("regexMatch", &[t("x"), t("abc")]).unwrap(),
            Value::Bool(false)
        );
        assert_eq!(
            run("regexMatch", &[t("("), t("abc")]).unwrap(),
            Value::Bool(false)
        );
        assert_eq!(
            run("mustRegexMatch", &[t("("), t("abc")]).unwrap_err(),
            "error parsing regexp: missing closing ): `(`"
        );
        assert_eq!(
            run("regexMatch", &[t("(?i)ABC"), t("xabcx")]).unwrap(),
            Value::Bool(true)
        );
        assert_eq!(
            run("regexMatch", &[t(r"\d"), t("٣")]).unwrap(),
            Value::Bool(false)
        );
        assert_eq!(
            run("regexMatch", &[t(r"\pL"), t("é")]).unwrap(),
            Value::Bool(true)
        );
        assert_eq!(
            run("regexMatch", &[t("^$"), t("")]).unwrap(),
            Value::Bool(true)
        );
        assert_eq!(
            run("regexMatch", &[t(r"a{"), t("a{")]).unwrap(),
            Value::Bool(true)
        );
        assert_eq!(
            run("regexMatch", &[t(r"[a[]+$"), t("[a")]).unwrap(),
            Value::Bool(true)
        );
        assert_eq!(
            run("regexMatch", &[t(r"\<"), t("<")]).unwrap(),
            Value::Bool(true)
        );
    }

    #[test]
    fn finding() {
        let l = run(
            "regexFindAll",
            &[t("[0-9]+"), t("a1b22c333"), Value::Int(-1)],
        )
        .unwrap();
        assert_eq!(l.type_name(), "[]string");
        assert_eq!(gofmt::sprint(&l), "[1 22 333]");
        assert_eq!(
            show(run(
                "regexFindAll",
                &[t("[0-9]+"), t("a1b22c333"), Value::Int(2)]
            )),
            "[1 22]"
        );
        assert_eq!(
            show(run(
                "regexFindAll",
                &[t("[0-9]+"), t("a1b22c333"), Value::Int(0)]
            )),
            "[]"
        );
        assert_eq!(
            show(run("regexFindAll", &[t(""), t("abc"), Value::Int(-1)])),
            "[   ]"
        );
        assert_eq!(
            show(run("regexFindAll", &[t("a*"), t("baaac"), Value::Int(-1)])),
            "[ aaa ]"
        );
        assert_eq!(show(run("regexFind", &[t("[0-9]+"), t("a1b22")])), "1");
        assert_eq!(show(run("regexFind", &[t("x"), t("abc")])), "");
        assert_eq!(show(run("regexFind", &[t("(?s)a.b"), t("a\nb")])), "a\nb");
        assert_eq!(show(run("regexFind", &[t("a.b"), t("a\nb")])), "");
        assert_eq!(
            show(run("regexFind", &[t(r"\bfoo\b"), t("a foo b")])),
            "foo"
        );
    }

    #[test]
    fn replacing() {
        let r = |p: &str, s: &str, x: &str| show(run("regexReplaceAll", &[t(p), t(s), t(x)]));
        assert_eq!(r("a(x*)b", "-ab-axxb-", "${1}W"), "-W-xxW-");
        assert_eq!(r("a(x*)b", "-ab-axxb-", "$1W"), "---");
        assert_eq!(r("a(?P<mid>x*)b", "-ab-axxb-", "<$mid>"), "-<>-<xx>-");
        assert_eq!(r("a(x*)b", "-axb-", "$$1"), "-$1-");
        assert_eq!(r("a(x*)b", "-axb-", "$2|$"), "-|$-");
        assert_eq!(r("a(x*)b", "-axb-", "${1"), "-${1-");
        assert_eq!(r("(a)", "aaa", "$1$1"), "aaaaaa");
        assert_eq!(r("(a)(b)", "ab", "$2_$1"), "a");
        assert_eq!(r("", "abc", "-"), "-a-b-c-");
        assert_eq!(r("a*", "baaac", "-"), "-b-c-");
        assert_eq!(
            show(run(
                "regexReplaceAllLiteral",
                &[t("a(x*)b"), t("-ab-axxb-"), t("${1}")]
            )),
            "-${1}-${1}-"
        );
    }

    #[test]
    fn splitting() {
        let sp = |p: &str, s: &str, n: i64| show(run("regexSplit", &[t(p), t(s), Value::Int(n)]));
        assert_eq!(sp(",", "a,b,c", -1), "[a b c]");
        assert_eq!(sp(",", "a,b,c", 2), "[a b,c]");
        assert_eq!(sp(",", "a,b,c", 0), "[]");
        assert_eq!(sp(",", "a,b,c", 1), "[a,b,c]");
        assert_eq!(sp("", "abc", -1), "[a b c]");
        assert_eq!(sp("x*", "axbxxc", -1), "[a b c]");
        assert_eq!(sp(",", "", -1), "[]");
        assert_eq!(sp("a", "a", -1), "[ ]");
    }

    #[test]
    fn quote_meta_and_errors() {
        assert_eq!(
            show(run("regexQuoteMeta", &[t(r"a.b*c[d]+$^(x)|{}\?")])),
            r"a\.b\*c\[d\]\+\$\^\(x\)\|\{\}\\\?"
        );
        assert_eq!(show(run("regexQuoteMeta", &[t("héllo-/")])), "héllo-/");
        let e = |f: &str, p: &str| run(f, &[t(p), t("x"), t("y")]).unwrap_err();
        assert_eq!(
            e("regexFind", "("),
            "regexp: Compile(`(`): error parsing regexp: missing closing ): `(`"
        );
        assert_eq!(
            e("mustRegexFind", "("),
            "error parsing regexp: missing closing ): `(`"
        );
        assert_eq!(
            e("mustRegexFind", "["),
            "error parsing regexp: missing closing ]: `[`"
        );
        assert_eq!(
            e("mustRegexFind", "a{2,1}"),
            "error parsing regexp: invalid repeat count: `{2,1}`"
        );
        assert_eq!(
            e("mustRegexFind", "*"),
            "error parsing regexp: missing argument to repetition operator: `*`"
        );
        assert_eq!(
            e("mustRegexFind", "\\"),
            "error parsing regexp: trailing backslash at end of expression: ``"
        );
        assert_eq!(
            e("mustRegexFind", "a(?=b)"),
            "error parsing regexp: invalid or unsupported Perl syntax: `(?=`"
        );
        let cases = [
            ("a**", "invalid nested repetition operator: `**`"),
            ("(?P<>x)", "invalid named capture: `(?P<>`"),
            ("[z-a]", "invalid character class range: `z-a`"),
            ("[[:foo:]]", "invalid character class range: `[:foo:]`"),
            ("\\q", "invalid escape sequence: `\\q`"),
            ("a)", "unexpected ): `a)`"),
            ("x{1001}", "invalid repeat count: `{1001}`"),
            ("\\8", "invalid escape sequence: `\\8`"),
            ("\\p{Foo}", "invalid character class range: `\\p{Foo}`"),
            ("(?i-)a", "invalid or unsupported Perl syntax: `(?i-)`"),
            ("a{2}{3}", "invalid nested repetition operator: `{2}{3}`"),
            ("[a", "missing closing ]: `[a`"),
            ("a+*", "invalid nested repetition operator: `+*`"),
            ("(?z)", "invalid or unsupported Perl syntax: `(?z`"),
            ("(?P<n", "invalid named capture: `(?P<n`"),
        ];
        for (p, msg) in cases {
            assert_eq!(
                e("mustRegexFind", p),
                format!("error parsing regexp: {msg}"),
                "{p}"
            );
        }
        let f = |p: &str, s: &str| show(run("regexFind", &[t(p), t(s)]));
        assert_eq!(f("[[:alpha:]]+", "12abc3"), "abc");
        assert_eq!(f("\\Qa.b\\E", "xa.by"), "a.b");
        assert_eq!(f("\\x41+", "AAA"), "AAA");
        assert_eq!(f("[\\d-z]+", "5-z"), "5-z");
        assert_eq!(f("(?U)a+", "aaa"), "a");
        assert_eq!(f("a{,3}", "a{,3}"), "a{,3}");
        assert_eq!(f("(?)a", "a"), "a");
        assert_eq!(f("\\w+", "héllo"), "h");
        assert_eq!(f("[^\\s]+", "a\u{a0}b c"), "a\u{a0}b");
        assert_eq!(f("\\101", "A"), "A");
    }
}
