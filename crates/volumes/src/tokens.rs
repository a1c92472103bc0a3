//! ServiceAccount tokens: JSON Web Tokens the API server signs, and later
//! believes.
//!
//! A token is three base64url parts, `header.claims.signature`. The claims
//! say who the bearer is and for how long:
//!
//! ```json
//! {"iss": "https://kubernetes.default.svc.cluster.local",
//!  "aud": ["https://kubernetes.default.svc.cluster.local"],
//!  "sub": "system:serviceaccount:default:default",
//!  "iat": 1764400000, "nbf": 1764400000, "exp": 1764403607,
//!  "jti": "…",
//!  "kubernetes.io": {"namespace": "default",
//!                    "serviceaccount": {"name": "default", "uid": "…"},
//!                    "pod": {"name": "web", "uid": "…"}}}
//! ```
//!
//! Anyone can read the claims (paste a token into a JWT decoder); only
//! the holder of the signing key can produce a signature that
//! [`Signer::verify`] accepts. Upstream signs with the key of
//! `--service-account-signing-key-file` (RSA by default); kubelab signs
//! with an ECDSA P-256 key (`ES256`, which upstream also accepts) kept in
//! `<data>/sa.key`, so tokens outlive a restart of kubelab.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair};
use serde_json::{Value, json};

/// The issuer and default audience (upstream's `--service-account-issuer`
/// in kind and kubeadm clusters).
pub const ISSUER: &str = "https://kubernetes.default.svc.cluster.local";

pub struct Signer {
    key: EcdsaKeyPair,
    /// `kid`: the key's id, base64url of the SHA-256 of its public key.
    kid: String,
    rng: SystemRandom,
}

impl Signer {
    /// The key in `dir/sa.key` (made on first use), or a key in memory.
    pub fn load_or_create(dir: Option<&Path>) -> anyhow::Result<Signer> {
        let rng = SystemRandom::new();
        let alg = &signature::ECDSA_P256_SHA256_FIXED_SIGNING;
        let pkcs8 = match dir.map(|d| d.join("sa.key")) {
            Some(path) if path.exists() => std::fs::read(&path)?,
            other => {
                let doc = EcdsaKeyPair::generate_pkcs8(alg, &rng)
                    .map_err(|_| anyhow::anyhow!("generating the service account key"))?;
                if let Some(path) = other {
                    use std::os::unix::fs::OpenOptionsExt;
                    std::fs::create_dir_all(path.parent().unwrap_or(Path::new(".")))?;
                    let mut f = std::fs::OpenOptions::new()
                        .write(true)
                        .create_new(true)
                        .mode(0o600)
                        .open(&path)?;
                    std::io::Write::write_all(&mut f, doc.as_ref())?;
                }
                doc.as_ref().to_vec()
            }
        };
        let key = EcdsaKeyPair::from_pkcs8(alg, &pkcs8, &rng)
            .map_err(|e| anyhow::anyhow!("reading the service account key: {e}"))?;
        let digest = ring::digest::digest(&ring::digest::SHA256, key.public_key().as_ref());
        Ok(Signer {
            kid: B64.encode(digest.as_ref()),
            key,
            rng,
        })
    }

    /// `header.claims.signature`.
    pub fn sign(&self, claims: &Value) -> String {
        let header = json!({"alg": "ES256", "kid": self.kid});
        let input = format!(
            "{}.{}",
            B64.encode(header.to_string()),
            B64.encode(claims.to_string())
        );
        let sig = self
            .key
            .sign(&self.rng, input.as_bytes())
            .expect("ECDSA signing does not fail with a valid key");
        format!("{input}.{}", B64.encode(sig.as_ref()))
    }

    /// The claims of a token this key signed, if its signature holds and
    /// it is valid `now` (seconds since the epoch). Says nothing about
    /// whether the ServiceAccount still exists: that is the caller's check.
    // ANCHOR: verify
    pub fn verify(&self, token: &str, now: i64) -> Option<Value> {
        let (input, sig) = token.rsplit_once('.')?;
        let (header, claims) = input.split_once('.')?;
        let header: Value = serde_json::from_slice(&B64.decode(header).ok()?).ok()?;
        if header["alg"] != "ES256" || header["kid"] != self.kid.as_str() {
            return None;
        }
        let public = signature::UnparsedPublicKey::new(
            &signature::ECDSA_P256_SHA256_FIXED,
            self.key.public_key().as_ref(),
        );
        public
            .verify(input.as_bytes(), &B64.decode(sig).ok()?)
            .ok()?;
        let claims: Value = serde_json::from_slice(&B64.decode(claims).ok()?).ok()?;
        let within = claims["nbf"].as_i64().unwrap_or(0) <= now + 60 // a minute of clock skew
            && claims["exp"].as_i64().is_some_and(|exp| now < exp);
        let ours = claims["iss"] == ISSUER
            && claims["aud"]
                .as_array()
                .is_some_and(|a| a.iter().any(|x| x == ISSUER));
        (within && ours).then_some(claims)
    }
    // ANCHOR_END: verify
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: i64) -> Value {
        json!({"iss": ISSUER, "aud": [ISSUER], "sub": "system:serviceaccount:default:default",
               "nbf": 1000, "iat": 1000, "exp": exp})
    }

    #[test]
    fn a_signed_token_verifies_until_it_expires() {
        let s = Signer::load_or_create(None).unwrap();
        let t = s.sign(&claims(2000));
        assert_eq!(t.split('.').count(), 3);
        assert_eq!(
            s.verify(&t, 1500).unwrap()["sub"],
            "system:serviceaccount:default:default"
        );
        assert!(s.verify(&t, 2000).is_none(), "expired");
    }

    #[test]
    fn a_changed_claim_or_another_key_is_refused() {
        let s = Signer::load_or_create(None).unwrap();
        let t = s.sign(&claims(2000));
        let parts: Vec<&str> = t.split('.').collect();
        let mut forged = claims(2000);
        forged["sub"] = "system:serviceaccount:kube-system:admin".into();
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            B64.encode(forged.to_string()),
            parts[2]
        );
        assert!(s.verify(&forged, 1500).is_none());
        let other = Signer::load_or_create(None).unwrap();
        assert!(other.verify(&t, 1500).is_none());
        let mut wrong_aud = claims(2000);
        wrong_aud["aud"] = json!(["vault"]);
        assert!(s.verify(&s.sign(&wrong_aud), 1500).is_none());
    }

    #[test]
    fn the_key_is_kept_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let a = Signer::load_or_create(Some(dir.path())).unwrap();
        let b = Signer::load_or_create(Some(dir.path())).unwrap();
        assert!(b.verify(&a.sign(&claims(2000)), 1500).is_some());
    }
}
