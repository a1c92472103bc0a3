//! The lexer: template text → items.
//!
//! A template is text with actions between `{{` and `}}`. Outside an action
//! everything is text; inside, the lexer produces identifiers, fields
//! (`.Values`), variables (`$x`), strings, numbers and punctuation. `{{- `
//! and ` -}}` trim the whitespace of the text beside them, and
//! `{{/* … */}}` is a comment. Every item remembers its byte offset, which
//! error messages turn into `line:column`.

/// One lexical item.
#[derive(Clone, Debug, PartialEq)]
pub enum Tok {
    Text(String),
    LeftDelim,
    RightDelim,
    Space,
    Ident(String),
    /// `.Name` (the text without the dot).
    Field(String),
    /// `$name` or `$`.
    Variable(String),
    Dot,
    /// A quoted string: (the source text with quotes, the value).
    Str(String, String),
    /// A character constant: (source text, the character).
    Char(String, char),
    Number(String),
    Bool(bool),
    Nil,
    Pipe,
    LeftParen,
    RightParen,
    Assign,
    Declare,
    Comma,
    /// Any other printable ASCII character (the parser rejects it with
    /// `unexpected "#" in operand`).
    Punct(char),
    /// A keyword: block break continue define else end if range template with.
    Keyword(&'static str),
    Eof,
}

/// An item and where it starts (a byte offset into the template text).
#[derive(Clone, Debug)]
pub struct Item {
    pub tok: Tok,
    pub pos: usize,
}

/// A lexing error, with the offset where it happened.
#[derive(Debug)]
pub struct LexError {
    pub pos: usize,
    pub msg: String,
}

const KEYWORDS: &[&str] = &[
    "block", "break", "continue", "define", "else", "end", "if", "range", "template", "with",
];

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_alnum(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

/// Lexes the whole template.
pub fn lex(src: &str) -> Result<Vec<Item>, LexError> {
    let b = src.as_bytes();
    let mut items = Vec::new();
    let mut i = 0;
    let mut trim_next_text = false;
    while i <= b.len() {
        // ANCHOR: trim_left
        // --- text up to the next {{
        let start = i;
        let next = src[i..].find("{{").map(|n| i + n);
        let end = next.unwrap_or(b.len());
        let mut text = &src[start..end];
        let mut text_pos = start;
        if trim_next_text {
            let t = text.trim_start_matches([' ', '\t', '\r', '\n']);
            text_pos += text.len() - t.len();
            text = t;
            trim_next_text = false;
        }
        let Some(open) = next else {
            if !text.is_empty() {
                items.push(Item {
                    tok: Tok::Text(text.to_string()),
                    pos: text_pos,
                });
            }
            break;
        };
        // left trim marker: "{{- " (the dash must be followed by a space)
        let trim_left =
            b.get(open + 2) == Some(&b'-') && b.get(open + 3).is_some_and(|c| is_space(*c));
        if trim_left {
            text = text.trim_end_matches([' ', '\t', '\r', '\n']);
        }
        if !text.is_empty() {
            items.push(Item {
                tok: Tok::Text(text.to_string()),
                pos: text_pos,
            });
        }
        i = open + 2;
        if trim_left {
            i += 2;
        }
        // ANCHOR_END: trim_left
        // --- a comment?
        let mut j = i;
        while trim_left && j < b.len() && is_space(b[j]) {
            j += 1;
        }
        if src[j..].starts_with("/*") {
            let Some(close) = src[j + 2..].find("*/") else {
                return Err(LexError {
                    pos: open,
                    msg: "unclosed comment".into(),
                });
            };
            let mut k = j + 2 + close + 2;
            // after the comment: "}}" or " -}}"
            let mut trim_right = false;
            let mut k2 = k;
            while k2 < b.len() && is_space(b[k2]) {
                k2 += 1;
            }
            if k2 > k && src[k2..].starts_with("-}}") {
                trim_right = true;
                k = k2 + 3;
            } else if src[k..].starts_with("}}") {
                k += 2;
            } else {
                return Err(LexError {
                    pos: open,
                    msg: "comment ends before closing delimiter".into(),
                });
            }
            trim_next_text = trim_right;
            i = k;
            continue;
        }
        items.push(Item {
            tok: Tok::LeftDelim,
            pos: open,
        });
        // --- inside the action
        let mut paren = 0i32;
        loop {
            if i >= b.len() {
                return Err(LexError {
                    pos: i,
                    msg: "unclosed action".into(),
                });
            }
            // ANCHOR: trim_right
            // right trim marker " -}}"
            if is_space(b[i]) {
                let s = i;
                while i < b.len() && is_space(b[i]) {
                    i += 1;
                }
                if src[i..].starts_with("-}}") {
                    items.push(Item {
                        tok: Tok::RightDelim,
                        pos: i,
                    });
                    i += 3;
                    trim_next_text = true;
                    break;
                }
                items.push(Item {
                    tok: Tok::Space,
                    pos: s,
                });
                continue;
            }
            // ANCHOR_END: trim_right
            if src[i..].starts_with("}}") {
                if paren > 0 {
                    return Err(LexError {
                        pos: i,
                        msg: "unclosed left paren".into(),
                    });
                }
                items.push(Item {
                    tok: Tok::RightDelim,
                    pos: i,
                });
                i += 2;
                break;
            }
            let c = src[i..].chars().next().unwrap();
            let pos = i;
            match c {
                '|' => {
                    items.push(Item {
                        tok: Tok::Pipe,
                        pos,
                    });
                    i += 1;
                }
                '(' => {
                    paren += 1;
                    items.push(Item {
                        tok: Tok::LeftParen,
                        pos,
                    });
                    i += 1;
                }
                ')' => {
                    paren -= 1;
                    if paren < 0 {
                        return Err(LexError {
                            pos,
                            msg: "unexpected right paren".into(),
                        });
                    }
                    items.push(Item {
                        tok: Tok::RightParen,
                        pos,
                    });
                    i += 1;
                }
                ',' => {
                    items.push(Item {
                        tok: Tok::Comma,
                        pos,
                    });
                    i += 1;
                }
                '=' => {
                    items.push(Item {
                        tok: Tok::Assign,
                        pos,
                    });
                    i += 1;
                }
                ':' => {
                    if b.get(i + 1) != Some(&b'=') {
                        return Err(LexError {
                            pos,
                            msg: "expected :=".into(),
                        });
                    }
                    items.push(Item {
                        tok: Tok::Declare,
                        pos,
                    });
                    i += 2;
                }
                '"' => {
                    let (raw, val, n) =
                        lex_quote(&src[i..]).map_err(|msg| LexError { pos, msg })?;
                    items.push(Item {
                        tok: Tok::Str(raw, val),
                        pos,
                    });
                    i += n;
                }
                '`' => {
                    let Some(close) = src[i + 1..].find('`') else {
                        return Err(LexError {
                            pos,
                            msg: "unterminated raw quoted string".into(),
                        });
                    };
                    let val = &src[i + 1..i + 1 + close];
                    items.push(Item {
                        tok: Tok::Str(src[i..i + close + 2].to_string(), val.to_string()),
                        pos,
                    });
                    i += close + 2;
                }
                '\'' => {
                    let (raw, ch, n) = lex_char(&src[i..]).map_err(|msg| LexError { pos, msg })?;
                    items.push(Item {
                        tok: Tok::Char(raw, ch),
                        pos,
                    });
                    i += n;
                }
                '$' => {
                    let n = src[i + 1..]
                        .find(|c: char| !is_alnum(c))
                        .unwrap_or(src.len() - i - 1);
                    items.push(Item {
                        tok: Tok::Variable(src[i..i + 1 + n].to_string()),
                        pos,
                    });
                    i += 1 + n;
                    check_terminator(src, i)?;
                }
                '.' => {
                    if b.get(i + 1).is_some_and(|c| c.is_ascii_digit()) {
                        let n = lex_number(&src[i..]);
                        items.push(Item {
                            tok: Tok::Number(src[i..i + n].to_string()),
                            pos,
                        });
                        i += n;
                    } else {
                        let n = src[i + 1..]
                            .find(|c: char| !is_alnum(c))
                            .unwrap_or(src.len() - i - 1);
                        if n == 0 {
                            items.push(Item { tok: Tok::Dot, pos });
                        } else {
                            items.push(Item {
                                tok: Tok::Field(src[i + 1..i + 1 + n].to_string()),
                                pos,
                            });
                        }
                        i += 1 + n;
                        if n > 0 {
                            check_terminator(src, i)?;
                        }
                    }
                }
                '0'..='9' | '+' | '-' => {
                    if (c == '+' || c == '-')
                        && !b
                            .get(i + 1)
                            .is_some_and(|c| c.is_ascii_digit() || *c == b'.')
                    {
                        return Err(LexError {
                            pos,
                            msg: format!("bad character {}", go_quote_rune(c)),
                        });
                    }
                    let n = lex_number(&src[i..]);
                    let text = &src[i..i + n];
                    // a number must not run into letters ("3x")
                    if src[i + n..].starts_with(|c: char| is_alnum(c) || c == '.') {
                        let m = src[i + n..]
                            .find(|c: char| !(is_alnum(c) || c == '.'))
                            .unwrap_or(src.len() - i - n);
                        return Err(LexError {
                            pos,
                            msg: format!("bad number syntax: {:?}", &src[i..i + n + m]),
                        });
                    }
                    items.push(Item {
                        tok: Tok::Number(text.to_string()),
                        pos,
                    });
                    i += n;
                }
                c if is_alnum(c) => {
                    let n = src[i..]
                        .find(|c: char| !is_alnum(c))
                        .unwrap_or(src.len() - i);
                    let word = &src[i..i + n];
                    let tok = match word {
                        "true" => Tok::Bool(true),
                        "false" => Tok::Bool(false),
                        "nil" => Tok::Nil,
                        w => match KEYWORDS.iter().find(|k| **k == w) {
                            Some(k) => Tok::Keyword(k),
                            None => Tok::Ident(w.to_string()),
                        },
                    };
                    items.push(Item { tok, pos });
                    i += n;
                    check_terminator(src, i)?;
                }
                c if c.is_ascii_graphic() => {
                    items.push(Item {
                        tok: Tok::Punct(c),
                        pos,
                    });
                    i += 1;
                }
                c => {
                    return Err(LexError {
                        pos,
                        msg: format!("unrecognized character in action: {}", go_quote_rune(c)),
                    });
                }
            }
        }
    }
    items.push(Item {
        tok: Tok::Eof,
        pos: src.len(),
    });
    Ok(items)
}

/// Go's `%#U`: `U+007B '{'`.
fn go_quote_rune(c: char) -> String {
    let q = super::gofmt::quote(&c.to_string());
    let inner = &q[1..q.len() - 1];
    if inner.starts_with('\\') && c != '\\' && c != '"' {
        format!("U+{:04X}", c as u32)
    } else {
        format!("U+{:04X} '{}'", c as u32, c)
    }
}

/// After a word, Go's lexer wants a terminator: space, `.`, `,`, `|`, `:`,
/// a paren, the end, or the closing delimiter; anything else is a "bad
/// character".
fn check_terminator(src: &str, i: usize) -> Result<(), LexError> {
    let rest = &src[i..];
    let Some(c) = rest.chars().next() else {
        return Ok(());
    };
    if matches!(
        c,
        ' ' | '\t' | '\r' | '\n' | '.' | ',' | '|' | ':' | ')' | '('
    ) || rest.starts_with("}}")
    {
        return Ok(());
    }
    Err(LexError {
        pos: i,
        msg: format!("bad character {}", go_quote_rune(c)),
    })
}

/// The length of the number at the start of `s` (Go's lexNumber, loosely:
/// sign, base prefix, digits with `_`, fraction, exponent).
fn lex_number(s: &str) -> usize {
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        i += 1;
    }
    let mut digits: &[u8] = b"0123456789_";
    let mut exp = b"eE".as_slice();
    if b.get(i) == Some(&b'0') && b.get(i + 1).is_some_and(|c| b"xXoObB".contains(c)) {
        match b[i + 1] {
            b'x' | b'X' => {
                digits = b"0123456789abcdefABCDEF_";
                exp = b"pP";
            }
            b'o' | b'O' => digits = b"01234567_",
            _ => digits = b"01_",
        }
        i += 2;
    }
    while i < b.len() && digits.contains(&b[i]) {
        i += 1;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        while i < b.len() && digits.contains(&b[i]) {
            i += 1;
        }
    }
    if b.get(i).is_some_and(|c| exp.contains(c)) {
        i += 1;
        if b.get(i).is_some_and(|c| *c == b'+' || *c == b'-') {
            i += 1;
        }
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
    }
    i
}

/// A double-quoted string: (source, value, length).
fn lex_quote(s: &str) -> Result<(String, String, usize), String> {
    let mut out = String::new();
    let mut chars = s.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((s[..i + 1].to_string(), out, i + 1)),
            '\n' => return Err("unterminated quoted string".into()),
            '\\' => {
                let Some((_, e)) = chars.next() else {
                    return Err("unterminated quoted string".into());
                };
                match e {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    '\\' => out.push('\\'),
                    '"' => out.push('"'),
                    '\'' => out.push('\''),
                    'a' => out.push('\x07'),
                    'b' => out.push('\x08'),
                    'f' => out.push('\x0c'),
                    'v' => out.push('\x0b'),
                    'x' | 'u' | 'U' => {
                        let n = match e {
                            'x' => 2,
                            'u' => 4,
                            _ => 8,
                        };
                        let hex: String = (0..n)
                            .filter_map(|_| chars.next().map(|(_, c)| c))
                            .collect();
                        let v = u32::from_str_radix(&hex, 16)
                            .map_err(|_| "invalid syntax".to_string())?;
                        out.push(char::from_u32(v).ok_or("invalid syntax")?);
                    }
                    '0'..='7' => {
                        let mut oct = e.to_string();
                        for _ in 0..2 {
                            if let Some((_, c)) = chars.next() {
                                oct.push(c);
                            }
                        }
                        let v = u32::from_str_radix(&oct, 8)
                            .map_err(|_| "invalid syntax".to_string())?;
                        out.push(char::from_u32(v).ok_or("invalid syntax")?);
                    }
                    _ => return Err("invalid syntax".into()),
                }
            }
            c => out.push(c),
        }
    }
    Err("unterminated quoted string".into())
}

fn lex_char(s: &str) -> Result<(String, char, usize), String> {
    let close = s[1..].find('\'').ok_or("unterminated character constant")? + 1;
    let body = &s[1..close];
    let ch = if let Some(esc) = body.strip_prefix('\\') {
        match esc {
            "n" => '\n',
            "t" => '\t',
            "\\" => '\\',
            "'" => '\'',
            _ => return Err("invalid syntax".into()),
        }
    } else {
        let mut cs = body.chars();
        let c = cs.next().ok_or("invalid syntax")?;
        if cs.next().is_some() {
            return Err("invalid syntax".into());
        }
        c
    };
    Ok((s[..close + 1].to_string(), ch, close + 1))
}
