//! Secrets encrypted at rest: upstream's `EncryptionConfiguration`.
//!
//! A Secret's `data` is only base64 — anyone who can read etcd's files (a
//! backup, a stolen disk) reads every password. kube-apiserver can encrypt
//! chosen resources on their way to etcd: `--encryption-provider-config`
//! names a file like this one, which kubelab reads the same way:
//!
//! ```yaml
//! apiVersion: apiserver.config.k8s.io/v1
//! kind: EncryptionConfiguration
//! resources:
//!   - resources: [secrets]
//!     providers:
//!       - secretbox:
//!           keys:
//!             - name: key1
//!               secret: <32 random bytes, base64>
//!       - identity: {}
//! ```
//!
//! The **first** provider encrypts every write; **all** of them are tried
//! for reads, matched by the prefix each one writes in front of its
//! ciphertext — `k8s:enc:secretbox:v1:key1:` — so values written with an
//! older key, or in plain text (`identity`) before encryption was turned
//! on, still read. That is what makes key rotation possible: add a key in
//! second place, restart; move it first, restart; rewrite every Secret
//! (`kubectl get secrets -A -o json | kubectl replace -f -`: a value under
//! an older key is *stale*, so even an unchanged object is written again);
//! remove the old key.
//!
//! | provider | cipher | stored as |
//! |---|---|---|
//! | `aescbc` | AES-CBC, PKCS#7 padding, random 16-byte IV | prefix, IV, ciphertext |
//! | `aesgcm` | AES-GCM, random 12-byte nonce | prefix, nonce, ciphertext + tag |
//! | `secretbox` | XSalsa20-Poly1305, random 24-byte nonce | prefix, nonce, ciphertext + tag |
//! | `identity` | none | the plain value |
//!
//! Without the flag, kubelab writes such a file into the data directory on
//! first start, with a fresh secretbox key, and uses it from then on: Secrets
//! are encrypted by default (upstream's default is `identity`; kind's too).
//!
//! Simplifications: no KMS providers; upstream's aesgcm binds each value
//! to its storage key (additional authenticated data), kubelab's ciphers do
//! not; resource entries with wildcards (`*.*`) are ignored.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine as _;
use kubelab_apiserver::storage::Transformer;
use rand::RngCore;
use serde::Deserialize;

/// The file kubelab writes into the data directory when no configuration
/// is given.
pub const DEFAULT_FILE: &str = "encryption-config.yaml";

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct EncryptionConfiguration {
    api_version: String,
    kind: String,
    resources: Vec<ResourceConfiguration>,
}

#[derive(Debug, Deserialize)]
struct ResourceConfiguration {
    resources: Vec<String>,
    providers: Vec<ProviderConfiguration>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProviderConfiguration {
    aescbc: Option<Keys>,
    aesgcm: Option<Keys>,
    secretbox: Option<Keys>,
    identity: Option<serde_yaml::Value>,
    kms: Option<serde_yaml::Value>,
}

#[derive(Debug, Deserialize)]
struct Keys {
    keys: Vec<Key>,
}

#[derive(Debug, Deserialize)]
struct Key {
    name: String,
    secret: String,
}

/// One way values can be stored, with the prefix that marks it.
#[derive(Clone)]
enum Provider {
    Identity,
    Cipher {
        /// `k8s:enc:aescbc:v1:key1:`
        prefix: Vec<u8>,
        cipher: Cipher,
    },
}

#[derive(Clone)]
enum Cipher {
    AesCbc(Vec<u8>),
    AesGcm(Vec<u8>),
    SecretBox([u8; 32]),
}

/// The providers of one group of resources, in the configuration's order.
#[derive(Clone)]
pub struct Envelope {
    providers: Arc<Vec<Provider>>,
}

impl std::fmt::Debug for Envelope {
    /// The providers' prefixes, never the keys.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<String> = self
            .providers
            .iter()
            .map(|p| match p {
                Provider::Identity => "identity".into(),
                Provider::Cipher { prefix, .. } => String::from_utf8_lossy(prefix).into_owned(),
            })
            .collect();
        f.debug_list().entries(names).finish()
    }
}

/// What the configuration says: `(resource, its providers)`, with the
/// resource as written there (`secrets`, `configmaps`, `deployments.apps`).
pub struct Config {
    pub resources: Vec<(String, Envelope)>,
    /// The file it came from.
    pub path: PathBuf,
}

/// Reads the configuration: `flag` when given, else the data directory's
/// own file, created with a fresh key the first time.
pub fn load(flag: Option<&Path>, data_dir: &Path) -> anyhow::Result<Config> {
    let path = match flag {
        Some(p) => p.to_path_buf(),
        None => {
            let p = data_dir.join(DEFAULT_FILE);
            if !p.exists() {
                std::fs::create_dir_all(data_dir)?;
                write_default(&p)?;
            }
            p
        }
    };
    let text = std::fs::read_to_string(&path)
        .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
    let resources = parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Ok(Config { resources, path })
}

/// A new configuration with one random secretbox key, readable only by
/// its owner.
fn write_default(path: &Path) -> anyhow::Result<()> {
    let mut key = [0u8; 32];
    rand::rng().fill_bytes(&mut key);
    let text = format!(
        "# Written by kubelab on first start: Secrets are encrypted at rest with\n\
         # this key. Rotate it as upstream documents (see the chapter 04 page).\n\
         apiVersion: apiserver.config.k8s.io/v1\n\
         kind: EncryptionConfiguration\n\
         resources:\n\
         \x20 - resources: [secrets]\n\
         \x20   providers:\n\
         \x20     - secretbox:\n\
         \x20         keys:\n\
         \x20           - name: key1\n\
         \x20             secret: {}\n\
         \x20     - identity: {{}}\n",
        base64::engine::general_purpose::STANDARD.encode(key)
    );
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    std::io::Write::write_all(&mut f, text.as_bytes())?;
    Ok(())
}

/// Parses an `EncryptionConfiguration`, with upstream's checks on keys.
pub fn parse(text: &str) -> Result<Vec<(String, Envelope)>, String> {
    let c: EncryptionConfiguration = serde_yaml::from_str(text).map_err(|e| e.to_string())?;
    if c.kind != "EncryptionConfiguration" || !c.api_version.starts_with("apiserver.config.k8s.io/")
    {
        return Err(format!(
            "expected kind EncryptionConfiguration in apiserver.config.k8s.io, got {} {}",
            c.api_version, c.kind
        ));
    }
    let mut out = Vec::new();
    for (i, r) in c.resources.iter().enumerate() {
        if r.providers.is_empty() {
            return Err(format!("resources[{i}].providers: Required value"));
        }
        let mut providers = Vec::new();
        for (j, p) in r.providers.iter().enumerate() {
            providers
                .extend(provider(p).map_err(|e| format!("resources[{i}].providers[{j}]: {e}"))?);
        }
        let envelope = Envelope {
            providers: Arc::new(providers),
        };
        for res in &r.resources {
            out.push((res.clone(), envelope.clone()));
        }
    }
    Ok(out)
}

fn provider(p: &ProviderConfiguration) -> Result<Vec<Provider>, String> {
    if p.kms.is_some() {
        return Err("kms providers are not supported by kubelab".into());
    }
    if p.identity.is_some() {
        return Ok(vec![Provider::Identity]);
    }
    let (name, keys) = match (&p.aescbc, &p.aesgcm, &p.secretbox) {
        (Some(k), None, None) => ("aescbc", k),
        (None, Some(k), None) => ("aesgcm", k),
        (None, None, Some(k)) => ("secretbox", k),
        _ => return Err("exactly one provider must be specified".into()),
    };
    if keys.keys.is_empty() {
        return Err(format!("{name}.keys: Required value"));
    }
    keys.keys
        .iter()
        .map(|k| {
            let secret = base64::engine::general_purpose::STANDARD
                .decode(&k.secret)
                .map_err(|e| format!("{name}.keys[{}].secret: {e}", k.name))?;
            let cipher = match (name, secret.len()) {
                ("aescbc", 16 | 24 | 32) => Cipher::AesCbc(secret),
                ("aesgcm", 16 | 24 | 32) => Cipher::AesGcm(secret),
                ("secretbox", 32) => Cipher::SecretBox(secret.try_into().expect("32 bytes")),
                _ => {
                    return Err(format!(
                        "{name}.keys[{}].secret: key of {} bytes is not supported",
                        k.name,
                        secret.len()
                    ));
                }
            };
            Ok(Provider::Cipher {
                prefix: format!("k8s:enc:{name}:v1:{}:", k.name).into_bytes(),
                cipher,
            })
        })
        .collect()
}

impl Cipher {
    // ANCHOR: seal
    fn seal(&self, plain: &[u8]) -> Result<Vec<u8>, String> {
        let mut rng = rand::rng();
        match self {
            Cipher::AesCbc(key) => {
                use cbc::cipher::{BlockEncryptMut, KeyIvInit, block_padding::Pkcs7};
                let mut iv = [0u8; 16];
                rng.fill_bytes(&mut iv);
                let sealed = match key.len() {
                    16 => cbc::Encryptor::<aes::Aes128>::new_from_slices(key, &iv)
                        .map(|c| c.encrypt_padded_vec_mut::<Pkcs7>(plain)),
                    24 => cbc::Encryptor::<aes::Aes192>::new_from_slices(key, &iv)
                        .map(|c| c.encrypt_padded_vec_mut::<Pkcs7>(plain)),
                    _ => cbc::Encryptor::<aes::Aes256>::new_from_slices(key, &iv)
                        .map(|c| c.encrypt_padded_vec_mut::<Pkcs7>(plain)),
                }
                .map_err(|e| e.to_string())?;
                Ok([&iv[..], &sealed].concat())
            }
            Cipher::AesGcm(key) => {
                use aes_gcm::aead::{Aead, KeyInit};
                let mut nonce = [0u8; 12];
                rng.fill_bytes(&mut nonce);
                let n = aes_gcm::Nonce::from_slice(&nonce);
                let sealed = match key.len() {
                    16 => aes_gcm::Aes128Gcm::new_from_slice(key)
                        .map_err(|e| e.to_string())?
                        .encrypt(n, plain),
                    24 => Aes192Gcm::new_from_slice(key)
                        .map_err(|e| e.to_string())?
                        .encrypt(n, plain),
                    _ => aes_gcm::Aes256Gcm::new_from_slice(key)
                        .map_err(|e| e.to_string())?
                        .encrypt(n, plain),
                }
                .map_err(|e| e.to_string())?;
                Ok([&nonce[..], &sealed].concat())
            }
            Cipher::SecretBox(key) => {
                use crypto_secretbox::aead::{Aead, KeyInit};
                let mut nonce = [0u8; 24];
                rng.fill_bytes(&mut nonce);
                let sealed = crypto_secretbox::XSalsa20Poly1305::new(key.into())
                    .encrypt(&nonce.into(), plain)
                    .map_err(|e| e.to_string())?;
                Ok([&nonce[..], &sealed].concat())
            }
        }
    }
    // ANCHOR_END: seal

    fn open(&self, sealed: &[u8]) -> Result<Vec<u8>, String> {
        let short = || "the stored value is too short".to_string();
        match self {
            Cipher::AesCbc(key) => {
                use cbc::cipher::{BlockDecryptMut, KeyIvInit, block_padding::Pkcs7};
                let (iv, data) = (sealed.get(..16).ok_or_else(short)?, &sealed[16..]);
                match key.len() {
                    16 => cbc::Decryptor::<aes::Aes128>::new_from_slices(key, iv)
                        .map_err(|e| e.to_string())?
                        .decrypt_padded_vec_mut::<Pkcs7>(data),
                    24 => cbc::Decryptor::<aes::Aes192>::new_from_slices(key, iv)
                        .map_err(|e| e.to_string())?
                        .decrypt_padded_vec_mut::<Pkcs7>(data),
                    _ => cbc::Decryptor::<aes::Aes256>::new_from_slices(key, iv)
                        .map_err(|e| e.to_string())?
                        .decrypt_padded_vec_mut::<Pkcs7>(data),
                }
                .map_err(|_| "invalid padding: wrong key?".to_string())
            }
            Cipher::AesGcm(key) => {
                use aes_gcm::aead::{Aead, KeyInit};
                let (nonce, data) = (sealed.get(..12).ok_or_else(short)?, &sealed[12..]);
                let n = aes_gcm::Nonce::from_slice(nonce);
                match key.len() {
                    16 => aes_gcm::Aes128Gcm::new_from_slice(key)
                        .map_err(|e| e.to_string())?
                        .decrypt(n, data),
                    24 => Aes192Gcm::new_from_slice(key)
                        .map_err(|e| e.to_string())?
                        .decrypt(n, data),
                    _ => aes_gcm::Aes256Gcm::new_from_slice(key)
                        .map_err(|e| e.to_string())?
                        .decrypt(n, data),
                }
                .map_err(|_| "authentication failed: wrong key?".to_string())
            }
            Cipher::SecretBox(key) => {
                use crypto_secretbox::aead::{Aead, KeyInit};
                let nonce: [u8; 24] = sealed
                    .get(..24)
                    .ok_or_else(short)?
                    .try_into()
                    .expect("24 bytes");
                crypto_secretbox::XSalsa20Poly1305::new(key.into())
                    .decrypt(&nonce.into(), &sealed[24..])
                    .map_err(|_| "authentication failed: wrong key?".to_string())
            }
        }
    }
}

/// AES-GCM with a 192-bit key (the crate names only the 128 and 256 ones).
type Aes192Gcm = aes_gcm::AesGcm<aes::Aes192, aes_gcm::aead::consts::U12>;

impl Transformer for Envelope {
    fn transform_to_storage(&self, _key: &[u8], plain: &[u8]) -> Result<Vec<u8>, String> {
        match &self.providers[0] {
            Provider::Identity => Ok(plain.to_vec()),
            Provider::Cipher { prefix, cipher } => {
                Ok([prefix.as_slice(), &cipher.seal(plain)?].concat())
            }
        }
    }

    fn transform_from_storage(&self, _key: &[u8], stored: &[u8]) -> Result<Vec<u8>, String> {
        for p in self.providers.iter() {
            if let Provider::Cipher { prefix, cipher } = p
                && let Some(sealed) = stored.strip_prefix(prefix.as_slice())
            {
                return cipher.open(sealed);
            }
        }
        if stored.starts_with(b"k8s:enc:") {
            let end = stored
                .iter()
                .skip(8)
                .position(|b| *b == b':')
                .map_or(0, |i| i + 8);
            return Err(format!(
                "no provider of the encryption configuration reads values written by {}",
                String::from_utf8_lossy(&stored[..end])
            ));
        }
        // Plain: written before encryption was configured. Upstream reads it
        // only when `identity` is among the providers.
        if self
            .providers
            .iter()
            .any(|p| matches!(p, Provider::Identity))
        {
            Ok(stored.to_vec())
        } else {
            Err("the value is not encrypted and identity is not a provider".into())
        }
    }

    fn is_stale(&self, stored: &[u8]) -> bool {
        match &self.providers[0] {
            Provider::Cipher { prefix, .. } => !stored.starts_with(prefix),
            Provider::Identity => stored.starts_with(b"k8s:enc:"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(providers: &str) -> Envelope {
        let text = format!(
            "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: [secrets]\n  providers:\n{providers}"
        );
        parse(&text).unwrap().remove(0).1
    }

    const K16: &str = "AAECAwQFBgcICQoLDA0ODw==";
    const K32: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

    #[test]
    fn every_provider_round_trips_with_upstreams_prefix() {
        let plain = br#"{"data":{"password":"aHVudGVyMg=="}}"#;
        for (name, key) in [
            ("aescbc", K32),
            ("aescbc", K16),
            ("aesgcm", K32),
            ("aesgcm", K16),
            ("secretbox", K32),
        ] {
            let e = config(&format!(
                "  - {name}:\n      keys: [{{name: k1, secret: \"{key}\"}}]\n"
            ));
            let stored = e.transform_to_storage(b"/k", plain).unwrap();
            let prefix = format!("k8s:enc:{name}:v1:k1:");
            assert!(stored.starts_with(prefix.as_bytes()), "{name}");
            assert!(
                !stored.windows(8).any(|w| w == b"aHVudGVy"),
                "{name}: no plaintext"
            );
            assert_eq!(
                e.transform_from_storage(b"/k", &stored).unwrap(),
                plain,
                "{name}"
            );
            // A fresh nonce or IV each time: the same value never looks the same.
            assert_ne!(
                e.transform_to_storage(b"/k", plain).unwrap(),
                stored,
                "{name}"
            );
        }
    }

    #[test]
    fn rotation_reads_old_keys_and_marks_their_values_stale() {
        let old = config(&format!(
            "  - secretbox:\n      keys: [{{name: key1, secret: \"{K32}\"}}]\n  - identity: {{}}\n"
        ));
        let written = old.transform_to_storage(b"/k", b"{}").unwrap();
        // The new key first, the old one still listed.
        let new = config(&format!(
            "  - aescbc:\n      keys: [{{name: key2, secret: \"{K16}\"}}]\n  - secretbox:\n      keys: [{{name: key1, secret: \"{K32}\"}}]\n  - identity: {{}}\n"
        ));
        assert_eq!(new.transform_from_storage(b"/k", &written).unwrap(), b"{}");
        assert!(new.is_stale(&written) && !old.is_stale(&written));
        assert!(new.is_stale(b"{}"), "plain values are stale too");
        assert!(!new.is_stale(&new.transform_to_storage(b"/k", b"{}").unwrap()));
        // Once the old key is removed, its values no longer read.
        let without = config(&format!(
            "  - aescbc:\n      keys: [{{name: key2, secret: \"{K16}\"}}]\n"
        ));
        let err = without.transform_from_storage(b"/k", &written).unwrap_err();
        assert!(err.contains("k8s:enc:secretbox"), "{err}");
        assert!(
            without.transform_from_storage(b"/k", b"{}").is_err(),
            "identity is not listed"
        );
    }

    #[test]
    fn a_wrong_key_or_a_bad_file_is_an_error() {
        let a = config(&format!(
            "  - aesgcm:\n      keys: [{{name: k, secret: \"{K32}\"}}]\n"
        ));
        let b = config(&format!(
            "  - aesgcm:\n      keys: [{{name: k, secret: \"{K16}\"}}]\n"
        ));
        assert!(
            b.transform_from_storage(b"/k", &a.transform_to_storage(b"/k", b"{}").unwrap())
                .is_err()
        );
        let bad = "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: [secrets]\n  providers:\n  - secretbox:\n      keys: [{name: k, secret: \"AAAA\"}]\n";
        assert!(parse(bad).unwrap_err().contains("key of 3 bytes"));
    }

    #[test]
    fn the_default_file_is_written_once_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let first = load(None, dir.path()).unwrap();
        let text = std::fs::read_to_string(&first.path).unwrap();
        assert!(text.contains("secretbox") && first.resources[0].0 == "secrets");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&first.path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        load(None, dir.path()).unwrap();
        assert_eq!(
            std::fs::read_to_string(&first.path).unwrap(),
            text,
            "kept, not regenerated"
        );
    }
}
