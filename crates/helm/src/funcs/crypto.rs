//! Sprig's crypto functions: digests (`sha1sum`, `sha256sum`, `sha512sum`,
//! `adler32sum`), `encryptAES`/`decryptAES` (AES-256-CBC with a
//! zero-padded key and a random IV, as Sprig does it), `uuidv4` and
//! `randBytes`.
//!
//! Not here: `bcrypt`, `htpasswd`, `derivePassword`, `genPrivateKey` and
//! the certificate functions (`genCA`, `genSelfSignedCert`,
//! `genSignedCert`, `buildCustomCert` …), which need bcrypt, scrypt and
//! RSA key generation.

use aes::Aes256;
use cbc::cipher::block_padding::{NoPadding, Pkcs7};
use cbc::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use rand::RngCore;
use ring::digest;

use super::encoding::{b64dec, b64enc};
use super::{Funcs, Ty};
use crate::template::Value;

pub fn register(f: &mut Funcs) {
    use Ty::{Int, Str};
    f.add("sha1sum", &[Str], |_, a| {
        Ok(Value::str(hash(&digest::SHA1_FOR_LEGACY_USE_ONLY, &a[0])))
    });
    f.add("sha256sum", &[Str], |_, a| {
        Ok(Value::str(hash(&digest::SHA256, &a[0])))
    });
    f.add("sha512sum", &[Str], |_, a| {
        Ok(Value::str(hash(&digest::SHA512, &a[0])))
    });
    f.add("adler32sum", &[Str], |_, a| {
        Ok(Value::str(adler32(s(&a[0]).as_bytes()).to_string()))
    });
    f.add("uuidv4", &[], |_, _| {
        Ok(Value::str(uuid::Uuid::new_v4().to_string()))
    });
    f.add("randBytes", &[Int], |_, a| {
        let n = match a[0] {
            Value::Int(n) | Value::Int64(n) => n,
            _ => 0,
        };
        if n < 0 {
            return Err("runtime error: makeslice: len out of range".into());
        }
        let mut buf = vec![0u8; n as usize];
        rand::rng().fill_bytes(&mut buf);
        Ok(Value::str(b64enc(&buf)))
    });
    f.add("encryptAES", &[Str, Str], |_, a| {
        Ok(Value::str(encrypt_aes(s(&a[0]), s(&a[1]))))
    });
    f.add("decryptAES", &[Str, Str], |_, a| {
        decrypt_aes(s(&a[0]), s(&a[1])).map(Value::str)
    });
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

fn hash(alg: &'static digest::Algorithm, v: &Value) -> String {
    digest::digest(alg, s(v).as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Adler-32 (`hash/adler32`).
pub fn adler32(data: &[u8]) -> u32 {
    const MOD: u32 = 65521;
    let (mut a, mut b) = (1u32, 0u32);
    for chunk in data.chunks(5552) {
        for &x in chunk {
            a += x as u32;
            b += a;
        }
        a %= MOD;
        b %= MOD;
    }
    b << 16 | a
}

/// The key: the password's bytes, cut or zero-padded to 32.
fn aes_key(password: &str) -> [u8; 32] {
    let mut key = [0u8; 32];
    let p = password.as_bytes();
    let n = p.len().min(32);
    key[..n].copy_from_slice(&p[..n]);
    key
}

/// Sprig's `encryptAES`: base64 of IV + AES-256-CBC(PKCS#7-padded text);
/// an empty text gives "".
pub fn encrypt_aes(password: &str, text: &str) -> String {
    if text.is_empty() {
        return String::new();
    }
    let mut iv = [0u8; 16];
    rand::rng().fill_bytes(&mut iv);
    let key = aes_key(password);
    let enc = cbc::Encryptor::<Aes256>::new(&key.into(), &iv.into());
    let ct = enc.encrypt_padded_vec_mut::<Pkcs7>(text.as_bytes());
    let mut out = iv.to_vec();
    out.extend_from_slice(&ct);
    b64enc(&out)
}

/// Sprig's `decryptAES`, with the Go runtime's panics for short or
/// malformed input (the padding is not checked, only its last byte used).
pub fn decrypt_aes(password: &str, crypt64: &str) -> Result<String, String> {
    let crypt = b64dec(crypt64).map_err(|at| format!("illegal base64 data at input byte {at}"))?;
    if crypt.is_empty() {
        return Ok(String::new());
    }
    if crypt.len() < 16 {
        // Go's DecodeString allocates DecodedLen of the input.
        return Err(format!(
            "runtime error: slice bounds out of range [:16] with capacity {}",
            crypt64.len() / 4 * 3
        ));
    }
    let (iv, body) = crypt.split_at(16);
    if body.len() % 16 != 0 {
        return Err("crypto/cipher: input not full blocks".into());
    }
    let key = aes_key(password);
    let iv: [u8; 16] = iv.try_into().map_err(|_| "bad IV".to_string())?;
    let dec = cbc::Decryptor::<Aes256>::new(&key.into(), &iv.into());
    let plain = dec
        .decrypt_padded_vec_mut::<NoPadding>(body)
        .map_err(|_| "crypto/cipher: input not full blocks".to_string())?;
    let Some(&last) = plain.last() else {
        return Err("runtime error: index out of range [-1]".into());
    };
    let keep = plain.len() as i64 - last as i64;
    if keep < 0 {
        return Err(format!(
            "runtime error: slice bounds out of range [:{keep}]"
        ));
    }
    Ok(String::from_utf8_lossy(&plain[..keep as usize]).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::funcs::call;

    fn run(name: &str, args: &[&str]) -> Result<String, String> {
        let args: Vec<Value> = args.iter().map(|a| Value::str(*a)).collect();
        call(&Funcs::helm(), name, &args).map(|v| {
            assert_eq!(v.type_name(), "string");
            v.as_str().unwrap().to_string()
        })
    }

    #[test]
    fn digests_as_helm() {
        assert_eq!(
            run("sha1sum", &["hello"]).unwrap(),
            "aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d"
        );
        assert_eq!(
            run("sha256sum", &["hello"]).unwrap(),
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
        assert_eq!(
            run("sha512sum", &["hello"]).unwrap(),
            "9b71d224bd62f3785d96d46ad3ea3d73319bfbc2890caadae2dff72519673ca72323c3d99ba5c11d7c7acc6e14b8c5da0c4663475c2e5c3adef46f73bcdec043"
        );
        assert_eq!(run("adler32sum", &["hello"]).unwrap(), "103547413");
        assert_eq!(run("adler32sum", &[""]).unwrap(), "1");
    }

    #[test]
    fn aes_as_helm() {
        let c = run("encryptAES", &["secretkey", "plaintext"]).unwrap();
        assert_eq!(c.len(), 44);
        assert_eq!(run("decryptAES", &["secretkey", &c]).unwrap(), "plaintext");
        assert_eq!(
            run("encryptAES", &["k", "0123456789abcdef"]).unwrap().len(),
            64
        );
        assert_eq!(run("encryptAES", &["k", ""]).unwrap(), "");
        let long = "0123456789abcdef0123456789abcdef0123";
        assert_eq!(
            run(
                "decryptAES",
                &[long, &run("encryptAES", &[long, "hi"]).unwrap()]
            )
            .unwrap(),
            "hi"
        );
        assert_eq!(run("decryptAES", &["k", ""]).unwrap(), "");
        assert_eq!(
            run("decryptAES", &["k", "!!"]).unwrap_err(),
            "illegal base64 data at input byte 0"
        );
        assert_eq!(
            run("decryptAES", &["k", "aGVsbG8="]).unwrap_err(),
            "runtime error: slice bounds out of range [:16] with capacity 6"
        );
        assert_eq!(
            run("decryptAES", &["k", "QUFBQUFBQUFBQUFBQUFBQQ=="]).unwrap_err(),
            "runtime error: index out of range [-1]"
        );
        assert_eq!(
            run("decryptAES", &["k", "QUFBQUFBQUFBQUFBQUFBQUFBQUE="]).unwrap_err(),
            "crypto/cipher: input not full blocks"
        );
        assert_eq!(
            run(
                "decryptAES",
                &["k", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="]
            )
            .unwrap_err(),
            "runtime error: slice bounds out of range [:-19]"
        );
        let b48 = "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB";
        assert_eq!(run("decryptAES", &["k", b48]).unwrap(), "P^");
    }

    #[test]
    fn random_shapes() {
        let u = run("uuidv4", &[]).unwrap();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        let b = call(&Funcs::helm(), "randBytes", &[Value::Int(10)]).unwrap();
        assert_eq!(b64dec(b.as_str().unwrap()).unwrap().len(), 10);
    }
}
