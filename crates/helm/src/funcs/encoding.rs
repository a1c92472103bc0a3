//! Sprig's encodings: `b64enc`, `b64dec`, `b32enc`, `b32dec` (standard
//! alphabets, padded).
//!
//! Sprig's decoders do not fail: bad input decodes to the text of Go's
//! error, `illegal base64 data at input byte 4`, and the byte offset is
//! Go's, so the decoders here follow Go's quantum-by-quantum algorithm
//! (newlines skipped, padding checked) rather than a library's.

use base64::Engine;

use super::{Funcs, Ty};
use crate::template::Value;

pub fn register(f: &mut Funcs) {
    f.add("b64enc", &[Ty::Str], |_, a| {
        Ok(Value::str(b64enc(s(&a[0]).as_bytes())))
    });
    f.add("b64dec", &[Ty::Str], |_, a| {
        Ok(Value::str(decoded(b64dec(s(&a[0])), "base64")))
    });
    f.add("b32enc", &[Ty::Str], |_, a| {
        Ok(Value::str(b32enc(s(&a[0]).as_bytes())))
    });
    f.add("b32dec", &[Ty::Str], |_, a| {
        Ok(Value::str(decoded(b32dec(s(&a[0])), "base32")))
    });
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

/// Sprig's result: the bytes as a string, or Go's error text.
fn decoded(r: Result<Vec<u8>, usize>, what: &str) -> String {
    match r {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(at) => format!("illegal {what} data at input byte {at}"),
    }
}

pub fn b64enc(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

fn sextet(c: u8) -> Option<u8> {
    B64.iter().position(|&x| x == c).map(|p| p as u8)
}

/// Go's `base64.StdEncoding.DecodeString`; the error is the offending byte
/// offset (`CorruptInputError`).
pub fn b64dec(text: &str) -> Result<Vec<u8>, usize> {
    let src = text.as_bytes();
    let mut out = Vec::with_capacity(src.len() / 4 * 3);
    let mut si = 0usize;
    while si < src.len() {
        let mut buf = [0u8; 4];
        let mut len = 4;
        let mut j = 0usize;
        let mut end = false;
        while j < 4 {
            if si == src.len() {
                if j == 0 {
                    return Ok(out);
                }
                return Err(si - j);
            }
            let c = src[si];
            si += 1;
            if let Some(v) = sextet(c) {
                buf[j] = v;
                j += 1;
                continue;
            }
            if c == b'\n' || c == b'\r' {
                continue;
            }
            if c != b'=' {
                return Err(si - 1);
            }
            // Padding: the end of the input.
            match j {
                0 | 1 => return Err(si - 1),
                2 => {
                    while si < src.len() && (src[si] == b'\n' || src[si] == b'\r') {
                        si += 1;
                    }
                    if si == src.len() {
                        return Err(src.len());
                    }
                    if src[si] != b'=' {
                        return Err(si - 1);
                    }
                    si += 1;
                }
                _ => {}
            }
            while si < src.len() && (src[si] == b'\n' || src[si] == b'\r') {
                si += 1;
            }
            if si < src.len() {
                return Err(si);
            }
            len = j;
            end = true;
            break;
        }
        let v =
            (buf[0] as u32) << 18 | (buf[1] as u32) << 12 | (buf[2] as u32) << 6 | buf[3] as u32;
        let bytes = [(v >> 16) as u8, (v >> 8) as u8, v as u8];
        out.extend_from_slice(&bytes[..len - 1]);
        if end {
            break;
        }
    }
    Ok(out)
}

/// Go's `base32.StdEncoding.EncodeToString`.
pub fn b32enc(b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len().div_ceil(5) * 8);
    for chunk in b.chunks(5) {
        let mut buf = [0u8; 5];
        buf[..chunk.len()].copy_from_slice(chunk);
        let v = buf.iter().fold(0u64, |acc, &x| acc << 8 | x as u64);
        let chars = match chunk.len() {
            1 => 2,
            2 => 4,
            3 => 5,
            4 => 7,
            _ => 8,
        };
        for i in 0..8 {
            if i < chars {
                out.push(B32[((v >> (35 - 5 * i)) & 31) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Go's `base32.StdEncoding.DecodeString` (newlines are removed first, so
/// error offsets count without them).
pub fn b32dec(text: &str) -> Result<Vec<u8>, usize> {
    let src: Vec<u8> = text.bytes().filter(|&c| c != b'\n' && c != b'\r').collect();
    let olen = src.len();
    let mut rest: &[u8] = &src;
    let mut out = Vec::new();
    let mut end = false;
    while !rest.is_empty() && !end {
        let mut buf = [0u8; 8];
        let mut dlen = 8;
        let mut j = 0usize;
        while j < 8 {
            if rest.is_empty() {
                return Err(olen - j);
            }
            let c = rest[0];
            rest = &rest[1..];
            if c == b'=' && j >= 2 && rest.len() < 8 {
                if rest.len() + j < 7 {
                    return Err(olen);
                }
                for k in 0..7 - j {
                    if rest.len() > k && rest[k] != b'=' {
                        return Err(olen - rest.len() + k - 1);
                    }
                }
                dlen = j;
                end = true;
                if matches!(dlen, 1 | 3 | 6) {
                    return Err(olen - rest.len() - 1);
                }
                break;
            }
            match B32.iter().position(|&x| x == c) {
                Some(v) => buf[j] = v as u8,
                None => return Err(olen - rest.len() - 1),
            }
            j += 1;
        }
        let v = buf.iter().fold(0u64, |acc, &x| acc << 5 | x as u64);
        let bytes = [
            (v >> 32) as u8,
            (v >> 24) as u8,
            (v >> 16) as u8,
            (v >> 8) as u8,
            v as u8,
        ];
        let n = match dlen {
            2 => 1,
            4 => 2,
            5 => 3,
            7 => 4,
            _ => 5,
        };
        out.extend_from_slice(&bytes[..n]);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::funcs::call;

    fn run(name: &str, arg: &str) -> String {
        let v = call(&Funcs::helm(), name, &[Value::str(arg)]).unwrap();
        assert_eq!(v.type_name(), "string");
        v.as_str().unwrap().to_string()
    }

    #[test]
    fn base64_as_helm() {
        assert_eq!(run("b64enc", "hello"), "aGVsbG8=");
        assert_eq!(run("b64enc", ""), "");
        let cases = [
            ("aGVsbG8=", "hello"),
            ("aGVsbG8", "illegal base64 data at input byte 4"),
            ("!!", "illegal base64 data at input byte 0"),
            ("", ""),
            ("aGVsbG8=\n", "hello"),
            ("aGVs bG8=", "illegal base64 data at input byte 4"),
            ("aGVsbA==", "hell"),
            ("aGVsbA", "illegal base64 data at input byte 4"),
            ("aGVsbA=", "illegal base64 data at input byte 7"),
            ("aGk=aGk=", "illegal base64 data at input byte 4"),
            ("aGk", "illegal base64 data at input byte 0"),
            ("a", "illegal base64 data at input byte 0"),
            ("aGVsbG8=x", "illegal base64 data at input byte 8"),
        ];
        for (i, o) in cases {
            assert_eq!(run("b64dec", i), o, "b64dec {i:?}");
        }
    }

    #[test]
    fn base32_as_helm() {
        assert_eq!(run("b32enc", "hello"), "NBSWY3DP");
        assert_eq!(run("b32enc", ""), "");
        assert_eq!(run("b32enc", "a"), "ME======");
        assert_eq!(run("b32enc", "abc"), "MFRGG===");
        let cases = [
            ("NBSWY3DP", "hello"),
            ("nbswy3dp", "illegal base32 data at input byte 0"),
            ("NBSWY3D", "illegal base32 data at input byte 0"),
            ("ME======", "a"),
            ("ME", "illegal base32 data at input byte 0"),
            ("MFRGG===", "abc"),
            ("NBSWY3DP\n", "hello"),
            ("NBSW Y3DP", "illegal base32 data at input byte 4"),
        ];
        for (i, o) in cases {
            assert_eq!(run("b32dec", i), o, "b32dec {i:?}");
        }
        for s in [
            "",
            "a",
            "ab",
            "abc",
            "abcd",
            "abcde",
            "abcdef",
            "hello world",
        ] {
            assert_eq!(run("b32dec", &run("b32enc", s)), s);
            assert_eq!(run("b64dec", &run("b64enc", s)), s);
        }
    }
}
