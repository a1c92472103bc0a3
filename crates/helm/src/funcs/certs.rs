//! Sprig's certificate functions: `genCA`, `genSelfSignedCert`,
//! `genSignedCert` (and their `…WithKey` forms), `buildCustomCert` and
//! `genPrivateKey`. Charts use them to give a webhook or an internal
//! service a TLS certificate without an external CA.
//!
//! As in helm: RSA keys (2048 bits for certificates, 4096 for
//! `genPrivateKey "rsa"`) in PKCS#1 PEM, SHA-256 signatures, server and
//! client auth, a random 128-bit serial; the result is a
//! `sprig.certificate` with `.Cert` and `.Key`. Every call makes new keys,
//! so outputs differ from run to run (and from helm's) by design.

use std::rc::Rc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType, SerialNumber,
};
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey};

use super::{Funcs, Ty};
use crate::template::{Object, Value};

/// `sprig.certificate`: a PEM certificate and its PEM key.
pub struct Certificate {
    pub cert: String,
    pub key: String,
}

impl Object for Certificate {
    fn type_name(&self) -> String {
        "sprig.certificate".into()
    }
    fn field(&self, name: &str) -> Option<Value> {
        match name {
            "Cert" => Some(Value::str(self.cert.as_str())),
            "Key" => Some(Value::str(self.key.as_str())),
            _ => None,
        }
    }
    fn display(&self) -> String {
        format!("{{{} {}}}", self.cert, self.key)
    }
    fn to_data(&self) -> Value {
        Value::map(
            [("Cert", &self.cert), ("Key", &self.key)]
                .into_iter()
                .map(|(k, v)| (k.to_string(), Value::str(v.as_str())))
                .collect(),
        )
    }
}

fn cert_value(cert: String, key: String) -> Value {
    Value::Object(Rc::new(Certificate { cert, key }))
}

pub fn register(f: &mut Funcs) {
    f.add("genPrivateKey", &[Ty::Str], |_, a| {
        Ok(Value::str(gen_private_key(a[0].as_str().unwrap_or(""))?))
    });
    f.add("genCA", &[Ty::Str, Ty::Int], |_, a| {
        let key = rsa_key(2048)?;
        ca(s(&a[0]), days(&a[1]), key)
    });
    f.add("genCAWithKey", &[Ty::Str, Ty::Int, Ty::Str], |_, a| {
        ca(s(&a[0]), days(&a[1]), signing_key(s(&a[2]))?)
    });
    f.add(
        "genSelfSignedCert",
        &[Ty::Str, Ty::List, Ty::List, Ty::Int],
        |_, a| {
            let key = rsa_key(2048)?;
            leaf(s(&a[0]), &a[1], &a[2], days(&a[3]), key, None)
        },
    );
    f.add(
        "genSelfSignedCertWithKey",
        &[Ty::Str, Ty::List, Ty::List, Ty::Int, Ty::Str],
        |_, a| {
            leaf(
                s(&a[0]),
                &a[1],
                &a[2],
                days(&a[3]),
                signing_key(s(&a[4]))?,
                None,
            )
        },
    );
    f.add(
        "genSignedCert",
        &[Ty::Str, Ty::List, Ty::List, Ty::Int, Ty::Certificate],
        |_, a| {
            let key = rsa_key(2048)?;
            leaf(s(&a[0]), &a[1], &a[2], days(&a[3]), key, Some(&a[4]))
        },
    );
    f.add(
        "genSignedCertWithKey",
        &[
            Ty::Str,
            Ty::List,
            Ty::List,
            Ty::Int,
            Ty::Certificate,
            Ty::Str,
        ],
        |_, a| {
            leaf(
                s(&a[0]),
                &a[1],
                &a[2],
                days(&a[3]),
                signing_key(s(&a[5]))?,
                Some(&a[4]),
            )
        },
    );
    f.add("buildCustomCert", &[Ty::Str, Ty::Str], |_, a| {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD;
        let cert = b64
            .decode(s(&a[0]))
            .map_err(|_| "unable to decode base64 certificate".to_string())?;
        let key = b64
            .decode(s(&a[1]))
            .map_err(|_| "unable to decode base64 private key".to_string())?;
        let Some((_, cert_der)) = pem_decode(&String::from_utf8_lossy(&cert)) else {
            return Err("unable to decode certificate".into());
        };
        if x509_parser::parse_x509_certificate(&cert_der).is_err() {
            return Err(
                "error parsing certificate: decodedCert.Bytes: x509: malformed certificate".into(),
            );
        }
        parse_key(&String::from_utf8_lossy(&key))
            .map_err(|e| format!("error parsing private key: {e}"))?;
        Ok(cert_value(
            String::from_utf8_lossy(&cert).into_owned(),
            String::from_utf8_lossy(&key).into_owned(),
        ))
    });
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

fn days(v: &Value) -> i64 {
    match v {
        Value::Int(n) | Value::Int64(n) => *n,
        _ => 0,
    }
}

/// A key as both the PEM helm prints and the PKCS#8 DER rcgen signs with.
struct Key {
    pem: String,
    pkcs8: Vec<u8>,
    alg: &'static rcgen::SignatureAlgorithm,
}

impl Key {
    fn pair(&self) -> Result<KeyPair, String> {
        let der = rustls::pki_types::PrivateKeyDer::Pkcs8(self.pkcs8.clone().into());
        KeyPair::from_der_and_sign_algo(&der, self.alg).map_err(|e| e.to_string())
    }
}

fn rsa_key(bits: usize) -> Result<Key, String> {
    let k = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, bits).map_err(|e| e.to_string())?;
    let pem = k
        .to_pkcs1_pem(rsa::pkcs1::LineEnding::LF)
        .map_err(|e| e.to_string())?
        .to_string();
    rsa_to_key(&k, pem)
}

/// An RSA key with its PEM as given and the PKCS#8 form rcgen signs with.
fn rsa_to_key(k: &rsa::RsaPrivateKey, pem: String) -> Result<Key, String> {
    let pkcs8 = k
        .to_pkcs8_der()
        .map_err(|e| e.to_string())?
        .as_bytes()
        .to_vec();
    Ok(Key {
        pem,
        pkcs8,
        alg: &rcgen::PKCS_RSA_SHA256,
    })
}

/// Sprig's `parsePrivateKeyPEM`, with its messages: the PEM block's type
/// says how to read it. `Ok(None)` is a DSA key, which parses but cannot
/// sign a certificate (Go's x509 refuses it when signing).
fn parse_key(pem: &str) -> Result<Option<Key>, String> {
    let Some((kind, der)) = pem_decode(pem) else {
        return Err("no PEM data in input".into());
    };
    let pkcs8_pair = |der: &[u8]| {
        KeyPair::try_from(der).map(|pair| Key {
            pem: pem.to_string(),
            pkcs8: pair.serialize_der(),
            alg: pair.algorithm(),
        })
    };
    if kind == "PRIVATE KEY" {
        if let Ok(k) = rsa::RsaPrivateKey::from_pkcs8_der(&der) {
            return rsa_to_key(&k, pem.to_string()).map(Some);
        }
        return pkcs8_pair(&der)
            .map(Some)
            .map_err(|_| "decoding PEM as PKCS#8: x509: failed to parse private key".into());
    }
    let Some(algorithm) = kind.strip_suffix(" PRIVATE KEY") else {
        return Err(format!("no private key data in PEM block of type {kind}"));
    };
    match algorithm {
        "RSA" => rsa::RsaPrivateKey::from_pkcs1_der(&der)
            .map_err(|_| {
                "parsing RSA private key from PEM: x509: failed to parse private key".into()
            })
            .and_then(|k| rsa_to_key(&k, pem.to_string()))
            .map(Some),
        "EC" => sec1_to_pkcs8(&der)
            .and_then(|p8| pkcs8_pair(&p8).ok())
            .map(Some)
            .ok_or_else(|| {
                "parsing EC private key from PEM: x509: failed to parse EC private key".into()
            }),
        "DSA" => Ok(None),
        _ => Err(format!("invalid private key type {kind}")),
    }
}

/// A key given to a `…WithKey` function, or Go's refusal.
fn signing_key(pem: &str) -> Result<Key, String> {
    parse_key(pem)
        .map_err(|e| format!("parsing private key: {e}"))?
        .ok_or_else(cannot_sign)
}

fn cannot_sign() -> String {
    "error creating certificate: x509: certificate private key does not implement crypto.Signer"
        .into()
}

/// Go's `pem.Decode`: the type and contents of the first well-formed block.
fn pem_decode(text: &str) -> Option<(String, Vec<u8>)> {
    use base64::Engine;
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN ") {
        let after = &rest[start + 11..];
        let close = after.find("-----")?;
        let kind = &after[..close];
        let body_start = &after[close + 5..];
        let end_marker = format!("-----END {kind}-----");
        let Some(end) = body_start.find(&end_marker) else {
            rest = body_start;
            continue;
        };
        let b64: String = body_start[..end]
            .lines()
            .filter(|l| !l.contains(':'))
            .flat_map(|l| l.trim().chars())
            .collect();
        if let Ok(der) = base64::engine::general_purpose::STANDARD.decode(b64) {
            return Some((kind.to_string(), der));
        }
        rest = &body_start[end..];
    }
    None
}

/// A SEC1 `EC PRIVATE KEY` wrapped as PKCS#8 (what rcgen reads): the curve
/// moves from the key's `[0]` into the algorithm identifier.
fn sec1_to_pkcs8(sec1: &[u8]) -> Option<Vec<u8>> {
    const EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
    const P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
    let (_, key, _) = tlv(sec1)?;
    let (_, _, after_version) = tlv(key)?;
    let (_, _, mut tail) = tlv(after_version)?;
    let mut body = key[..key.len() - tail.len()].to_vec();
    let mut curve = P256.to_vec();
    while let Some((tag, contents, next)) = tlv(tail) {
        if tag == 0xa0 {
            curve = tlv(contents)?.1.to_vec();
        } else {
            body.extend_from_slice(&tail[..tail.len() - next.len()]);
        }
        tail = next;
    }
    let mut algorithm = der(0x06, EC_PUBLIC_KEY);
    algorithm.extend(der(0x06, &curve));
    let mut out = der_integer(&[0]);
    out.extend(der(0x30, &algorithm));
    out.extend(der(0x04, &der(0x30, &body)));
    Some(der(0x30, &out))
}

/// `genPrivateKey`: a new key of that type, as PEM.
fn gen_private_key(kind: &str) -> Result<String, String> {
    Ok(match kind {
        "rsa" => rsa_key(4096)?.pem,
        "ecdsa" => {
            let k =
                KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(|e| e.to_string())?;
            sec1_pem(&k.serialize_der()).unwrap_or_else(|| k.serialize_pem())
        }
        "dsa" => dsa_key(),
        "ed25519" => {
            let k = KeyPair::generate_for(&rcgen::PKCS_ED25519).map_err(|e| e.to_string())?;
            pkcs8_v1_pem(&k.serialize_der()).unwrap_or_else(|| k.serialize_pem())
        }
        other => format!("Unknown type {other}"),
    })
}

/// The SEC1 `EC PRIVATE KEY` inside a PKCS#8 document, in Go's
/// `MarshalECPrivateKey` form, which helm prints: PKCS#8 keeps the curve
/// in its algorithm identifier, Go names it inside the key (`[0]`).
fn sec1_pem(pkcs8: &[u8]) -> Option<String> {
    // SEQUENCE { INTEGER, SEQUENCE {…}, OCTET STRING { ECPrivateKey } }
    let (_, seq, _) = tlv(pkcs8)?;
    let (_, _, rest) = tlv(seq)?; // version
    let (_, algorithm, rest) = tlv(rest)?; // { ecPublicKey, curve }
    let (tag, inner, _) = tlv(rest)?;
    if tag != 0x04 {
        return None;
    }
    let (_, _, after_kind) = tlv(algorithm)?;
    let (_, curve, _) = tlv(after_kind)?;
    // ECPrivateKey { version, privateKey, [0] parameters?, [1] publicKey? }
    let (_, key, _) = tlv(inner)?;
    let (_, _, after_version) = tlv(key)?;
    let (_, _, tail) = tlv(after_version)?;
    let head = &key[..key.len() - tail.len()];
    let mut body = head.to_vec();
    if tail.first() != Some(&0xa0) {
        body.extend(der(0xa0, &der(0x06, curve)));
    }
    body.extend_from_slice(tail);
    Some(pem_block("EC PRIVATE KEY", &der(0x30, &body)))
}

/// A PKCS#8 key as Go's `MarshalPKCS8PrivateKey` writes it: version 0,
/// without the public key that ring's version-1 documents carry.
fn pkcs8_v1_pem(pkcs8: &[u8]) -> Option<String> {
    let (_, seq, _) = tlv(pkcs8)?;
    let (_, _, rest) = tlv(seq)?; // version
    let (_, _, after_algorithm) = tlv(rest)?;
    let (_, _, tail) = tlv(after_algorithm)?; // the private key
    let mut body = der_integer(&[0]);
    body.extend_from_slice(&rest[..rest.len() - tail.len()]);
    Some(pem_block("PRIVATE KEY", &der(0x30, &body)))
}

/// One DER element: its tag, its contents and what follows it.
fn tlv(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let tag = *b.first()?;
    let (len, hdr) = match *b.get(1)? {
        l if l < 0x80 => (l as usize, 2),
        0x81 => (*b.get(2)? as usize, 3),
        0x82 => (((*b.get(2)? as usize) << 8) | *b.get(3)? as usize, 4),
        _ => return None,
    };
    let body = b.get(hdr..hdr + len)?;
    Some((tag, body, &b[hdr + len..]))
}

/// Go's `pem.EncodeToMemory`: base64 in lines of 64 between the markers.
fn pem_block(kind: &str, der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap_or(""))
        .collect();
    format!(
        "-----BEGIN {kind}-----\n{}\n-----END {kind}-----\n",
        lines.join("\n")
    )
}

/// `genPrivateKey "dsa"`: Sprig makes L2048N256 parameters and a key, and
/// writes them as OpenSSL's `DSA PRIVATE KEY` (Go's `asn1.Marshal` of
/// `{Version, P, Q, G, Y, X}`). Nothing in Go's library reads that block
/// back; it exists for charts that hand a key to an old program.
fn dsa_key() -> String {
    use dsa::{Components, KeySize, SigningKey};
    let mut rng = rsa::rand_core::OsRng;
    let components = Components::generate(&mut rng, KeySize::DSA_2048_256);
    let key = SigningKey::generate(&mut rng, components);
    let public = key.verifying_key();
    let c = public.components();
    let mut body = der_integer(&[0]);
    for n in [c.p(), c.q(), c.g(), public.y(), key.x()] {
        body.extend(der_integer(&n.to_bytes_be()));
    }
    pem_block("DSA PRIVATE KEY", &der(0x30, &body))
}

/// A DER INTEGER of a non-negative big-endian magnitude.
fn der_integer(magnitude: &[u8]) -> Vec<u8> {
    let start = magnitude.iter().position(|&b| b != 0);
    let mut v = match start {
        Some(i) => magnitude[i..].to_vec(),
        None => vec![0],
    };
    if v[0] & 0x80 != 0 {
        v.insert(0, 0);
    }
    der(0x02, &v)
}

/// One DER element: tag, definite length, contents.
fn der(tag: u8, contents: &[u8]) -> Vec<u8> {
    let n = contents.len();
    let mut out = vec![tag];
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let bytes: Vec<u8> = n
            .to_be_bytes()
            .into_iter()
            .skip_while(|&b| b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(contents);
    out
}

fn base_params(cn: &str, days: i64) -> CertificateParams {
    let mut p = CertificateParams::default();
    p.distinguished_name.push(DnType::CommonName, cn);
    let now = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap_or_else(|_| time::OffsetDateTime::now_utc());
    p.not_before = now;
    p.not_after = now + time::Duration::days(days);
    let serial: [u8; 16] = rand::random();
    p.serial_number = Some(SerialNumber::from_slice(&serial));
    p.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    p
}

fn ca(cn: &str, days: i64, key: Key) -> Result<Value, String> {
    let mut p = base_params(cn, days);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
        KeyUsagePurpose::KeyCertSign,
    ];
    let pair = key.pair()?;
    let cert = p.self_signed(&pair).map_err(|e| e.to_string())?;
    Ok(cert_value(cert.pem(), key.pem))
}

fn leaf(
    cn: &str,
    ips: &Value,
    dns: &Value,
    days: i64,
    key: Key,
    ca: Option<&Value>,
) -> Result<Value, String> {
    let mut p = base_params(cn, days);
    p.is_ca = IsCa::ExplicitNoCa;
    p.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    p.use_authority_key_identifier_extension = ca.is_some();
    // DNS names first, then addresses, as helm lists them
    for name in list_strings(dns) {
        p.subject_alt_names.push(SanType::DnsName(
            name.try_into().map_err(|e: rcgen::Error| e.to_string())?,
        ));
    }
    for ip in list_strings(ips) {
        let addr = ip.parse().map_err(|_| format!("error parsing ip: {ip}"))?;
        p.subject_alt_names.push(SanType::IpAddress(addr));
    }
    let pair = key.pair()?;
    let cert = match ca {
        None => p.self_signed(&pair).map_err(|e| e.to_string())?,
        Some(v) => {
            let (ca_cert, ca_key) = match v {
                Value::Object(o) => (
                    o.field("Cert")
                        .and_then(|c| c.as_str().map(String::from))
                        .unwrap_or_default(),
                    o.field("Key")
                        .and_then(|c| c.as_str().map(String::from))
                        .unwrap_or_default(),
                ),
                _ => return Err("error parsing ca: not a certificate".into()),
            };
            let Some((_, ca_der)) = pem_decode(&ca_cert) else {
                return Err("unable to decode certificate".into());
            };
            if x509_parser::parse_x509_certificate(&ca_der).is_err() {
                return Err(
                    "error parsing certificate: decodedSignerCert.Bytes: x509: malformed certificate"
                        .into(),
                );
            }
            let signer = parse_key(&ca_key)
                .map_err(|e| format!("error parsing private key: {e}"))?
                .ok_or_else(cannot_sign)?
                .pair()?;
            let issuer = Issuer::from_ca_cert_pem(&ca_cert, signer)
                .map_err(|e| format!("error parsing ca: {e}"))?;
            p.signed_by(&pair, &issuer).map_err(|e| e.to_string())?
        }
    };
    Ok(cert_value(cert.pem(), key.pem))
}

fn list_strings(v: &Value) -> Vec<String> {
    match v {
        Value::List(items, _) => items
            .iter()
            .filter_map(|i| i.as_str().map(String::from))
            .collect(),
        _ => vec![],
    }
}
