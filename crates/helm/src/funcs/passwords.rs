//! Sprig's password functions: `bcrypt` and `htpasswd` (a bcrypt hash, as
//! web servers' basic-auth files hold it) and `derivePassword`, the
//! "Master Password" algorithm: the same inputs always give the same
//! password, so a chart can derive one instead of storing it.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::{Funcs, Ty};
use crate::template::Value;

pub fn register(f: &mut Funcs) {
    f.add("bcrypt", &[Ty::Str], |_, a| {
        Ok(Value::str(bcrypt_2a(a[0].as_str().unwrap_or(""))?))
    });
    f.add("htpasswd", &[Ty::Str, Ty::Str], |_, a| {
        let (user, pass) = (a[0].as_str().unwrap_or(""), a[1].as_str().unwrap_or(""));
        if user.contains(':') {
            return Ok(Value::str(format!("invalid username: {user}")));
        }
        Ok(Value::str(format!("{user}:{}", bcrypt_2a(pass)?)))
    });
    // counter is a Go uint32
    f.add(
        "derivePassword",
        &[Ty::Int, Ty::Str, Ty::Str, Ty::Str, Ty::Str],
        |_, a| {
            let s = |i: usize| a[i].as_str().unwrap_or("");
            let counter = match &a[0] {
                Value::Int(n) => *n as u32,
                _ => 0,
            };
            Ok(Value::str(derive_password(counter, s(1), s(2), s(3), s(4))))
        },
    );
}

/// Go's `bcrypt.GenerateFromPassword(p, DefaultCost)`: cost 10, `$2a$`.
fn bcrypt_2a(password: &str) -> Result<String, String> {
    bcrypt::hash_with_result(password, 10)
        .map(|h| h.format_for_version(bcrypt::Version::TwoA))
        .map_err(|e| e.to_string())
}

const SEED: &str = "com.lyndir.masterpassword";

/// The templates of each password type: one letter per character, naming
/// the set it is drawn from.
fn templates(kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind {
        "maximum" => &["anoxxxxxxxxxxxxxxxxx", "axxxxxxxxxxxxxxxxxno"],
        "long" => &[
            "CvcvnoCvcvCvcv",
            "CvcvCvcvnoCvcv",
            "CvcvCvcvCvcvno",
            "CvccnoCvcvCvcv",
            "CvccCvcvnoCvcv",
            "CvccCvcvCvcvno",
            "CvcvnoCvccCvcv",
            "CvcvCvccnoCvcv",
            "CvcvCvccCvcvno",
            "CvcvnoCvcvCvcc",
            "CvcvCvcvnoCvcc",
            "CvcvCvcvCvccno",
            "CvccnoCvccCvcv",
            "CvccCvccnoCvcv",
            "CvccCvccCvcvno",
            "CvcvnoCvccCvcc",
            "CvcvCvccnoCvcc",
            "CvcvCvccCvccno",
            "CvccnoCvcvCvcc",
            "CvccCvcvnoCvcc",
            "CvccCvcvCvccno",
        ],
        "medium" => &["CvcnoCvc", "CvcCvcno"],
        "short" => &["Cvcn"],
        "basic" => &["aaanaaan", "aannaaan", "aaannaaa"],
        "pin" => &["nnnn"],
        _ => return None,
    })
}

fn characters(class: char) -> &'static [u8] {
    match class {
        'V' => b"AEIOU",
        'C' => b"BCDFGHJKLMNPQRSTVWXYZ",
        'v' => b"aeiou",
        'c' => b"bcdfghjklmnpqrstvwxyz",
        'A' => b"AEIOUBCDFGHJKLMNPQRSTVWXYZ",
        'a' => b"AEIOUaeiouBCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz",
        'n' => b"0123456789",
        'o' => b"@&%?,=[]_:-+*$#!'^~;()/.",
        'x' => b"AEIOUaeiouBCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz0123456789!@#$%^&*()",
        _ => b" ",
    }
}

/// Master Password: a key from scrypt over the user's name, a seed from
/// HMAC-SHA256 over the site and counter, then one template filled in.
pub fn derive_password(counter: u32, kind: &str, password: &str, user: &str, site: &str) -> String {
    let Some(templates) = templates(kind) else {
        return format!("cannot find password template {kind}");
    };
    let mut salt = SEED.as_bytes().to_vec();
    salt.extend((user.len() as u32).to_be_bytes());
    salt.extend(user.as_bytes());
    let mut key = [0u8; 64];
    // N = 32768 = 2^15, r = 8, p = 2
    let params = scrypt::Params::new(15, 8, 2, 64).expect("scrypt parameters");
    if scrypt::scrypt(password.as_bytes(), &salt, &params, &mut key).is_err() {
        return String::new();
    }
    let mut msg = SEED.as_bytes().to_vec();
    msg.extend((site.len() as u32).to_be_bytes());
    msg.extend(site.as_bytes());
    msg.extend(counter.to_be_bytes());
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&key).expect("any key length");
    mac.update(&msg);
    let seed = mac.finalize().into_bytes();
    let template = templates[seed[0] as usize % templates.len()];
    template
        .chars()
        .enumerate()
        .map(|(i, class)| {
            let chars = characters(class);
            chars[seed[i + 1] as usize % chars.len()] as char
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_passwords_are_the_ones_helm_derives() {
        // recorded with helm 3.18
        assert_eq!(
            derive_password(1, "long", "password", "user", "example.com"),
            "ZedaFaxcZaso9*"
        );
        assert_eq!(
            derive_password(2, "medium", "password", "user", "example.com"),
            "Fov2-Jal"
        );
        assert_eq!(
            derive_password(1, "pin", "password", "user", "example.com"),
            "6685"
        );
        assert_eq!(
            derive_password(1, "nope", "password", "user", "example.com"),
            "cannot find password template nope"
        );
    }

    #[test]
    fn bcrypt_hashes_verify() {
        let h = bcrypt_2a("pass").unwrap();
        assert!(h.starts_with("$2a$10$") && h.len() == 60, "{h}");
        assert!(bcrypt::verify("pass", &h).unwrap());
        assert!(!bcrypt::verify("other", &h).unwrap());
    }
}
