//! CloudFront's signed URLs and cookies, as AWS documents them ("Create a signed URL using a
//! canned policy", "... using a custom policy", "Set signed cookies using a custom policy"):
//! a JSON policy without whitespace, signed with RSA-SHA1 (PKCS #1 v1.5, the only
//! signature CloudFront checks for a key of a key group), base64-encoded with CloudFront's
//! URL-safe substitutions (`+` → `-`, `=` → `_`, `/` → `~`).
//!
//! The key pair is RSA 2048 (the size CloudFront's public keys take), the private key kept
//! as PKCS #8 PEM and the public key as the SubjectPublicKeyInfo PEM CloudFront's
//! CreatePublicKey takes. Nothing here talks to AWS.

use base64::Engine;
use rsa::pkcs1v15::SigningKey as RsaSigner;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use rsa::signature::{SignatureEncoding, Signer};
use rsa::RsaPrivateKey;

use crate::StepError;

/// The modulus size CloudFront accepts for an RSA public key.
pub const KEY_BITS: usize = 2048;

/// A newly generated key pair, both halves as PEM.
pub struct KeyPair {
    /// PKCS #8 `-----BEGIN PRIVATE KEY-----`: goes to Secrets Manager and nowhere else.
    pub private_pem: String,
    /// `-----BEGIN PUBLIC KEY-----`: what CloudFront's CreatePublicKey takes.
    pub public_pem: String,
}

/// Generates an RSA 2048 key pair from the operating system's random source.
pub fn generate() -> Result<KeyPair, StepError> {
    let key = RsaPrivateKey::new(&mut rand_core::OsRng, KEY_BITS)
        .map_err(|e| StepError::with_source("generating an RSA key pair", e))?;
    let private_pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| StepError::with_source("encoding the private key", e))?
        .to_string();
    let public_pem = public_of(&key)?;
    Ok(KeyPair {
        private_pem,
        public_pem,
    })
}

fn public_of(key: &RsaPrivateKey) -> Result<String, StepError> {
    key.to_public_key()
        .to_public_key_pem(LineEnding::LF)
        .map_err(|e| StepError::with_source("encoding the public key", e))
}

/// The public key PEM of a private key PEM.
pub fn public_pem(private_pem: &str) -> Result<String, StepError> {
    public_of(&parse(private_pem)?)
}

fn parse(private_pem: &str) -> Result<RsaPrivateKey, StepError> {
    RsaPrivateKey::from_pkcs8_pem(private_pem)
        .map_err(|e| StepError::with_source("reading the stack's private signing key", e))
}

/// Whether two public key PEMs are the same key (CloudFront may return the PEM with other
/// line breaks than it was given).
pub fn same_public_key(a: &str, b: &str) -> bool {
    let bare = |pem: &str| -> String {
        pem.lines()
            .filter(|l| !l.starts_with("-----"))
            .flat_map(|l| l.trim().chars())
            .collect()
    };
    bare(a) == bare(b)
}

/// Base64 with CloudFront's substitutions for characters a URL or cookie would mangle.
pub fn cloudfront_base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD
        .encode(bytes)
        .chars()
        .map(|c| match c {
            '+' => '-',
            '=' => '_',
            '/' => '~',
            other => other,
        })
        .collect()
}

/// A signer: the private key and the id CloudFront gave its public key.
pub struct UrlSigner {
    key: RsaSigner<sha1::Sha1>,
    /// The CloudFront public key id (`K2JCJMDEHXQW5F`), sent as `Key-Pair-Id`.
    pub key_pair_id: String,
}

impl UrlSigner {
    pub fn new(private_pem: &str, key_pair_id: &str) -> Result<UrlSigner, StepError> {
        Ok(UrlSigner {
            key: RsaSigner::new(parse(private_pem)?),
            key_pair_id: key_pair_id.to_string(),
        })
    }

    fn sign(&self, policy: &str) -> String {
        cloudfront_base64(&self.key.sign(policy.as_bytes()).to_bytes())
    }

    /// `url` signed with a canned policy valid until `expires` (seconds since the epoch).
    /// `url` must not carry a query string of its own that CloudFront would strip.
    pub fn signed_url(&self, url: &str, expires: u64) -> String {
        let signature = self.sign(&canned_policy(url, expires));
        let join = if url.contains('?') { '&' } else { '?' };
        format!(
            "{url}{join}Expires={expires}&Signature={signature}&Key-Pair-Id={}",
            self.key_pair_id
        )
    }

    /// The three signed cookies of a custom policy granting `resource` (which may end in
    /// `*`) until `expires`: `(name, value)` in the order CloudFront documents them.
    pub fn cookies(&self, resource: &str, expires: u64) -> Vec<(&'static str, String)> {
        let policy = custom_policy(resource, expires);
        vec![
            ("CloudFront-Policy", cloudfront_base64(policy.as_bytes())),
            ("CloudFront-Signature", self.sign(&policy)),
            ("CloudFront-Key-Pair-Id", self.key_pair_id.clone()),
        ]
    }
}

/// The canned policy AWS documents, byte for byte (no whitespace).
pub fn canned_policy(url: &str, expires: u64) -> String {
    custom_policy(url, expires)
}

/// A custom policy with only `DateLessThan` (the canned policy's shape, but sent in full).
/// Written by hand, not through a JSON map: the canned policy CloudFront rebuilds to verify
/// the signature has exactly this member order and no whitespace.
pub fn custom_policy(resource: &str, expires: u64) -> String {
    let resource = serde_json::Value::String(resource.to_string());
    format!(
        r#"{{"Statement":[{{"Resource":{resource},"Condition":{{"DateLessThan":{{"AWS:EpochTime":{expires}}}}}}}]}}"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_uses_cloudfronts_substitutions() {
        // 0xfb 0xff encodes to "+/8=" in standard base64.
        assert_eq!(cloudfront_base64(&[0xfb, 0xff]), "-~8_");
    }

    #[test]
    fn canned_policy_has_awss_exact_shape() {
        assert_eq!(
            canned_policy("https://d111111abcdef8.cloudfront.net/a.mp4", 1357034400),
            r#"{"Statement":[{"Resource":"https://d111111abcdef8.cloudfront.net/a.mp4","Condition":{"DateLessThan":{"AWS:EpochTime":1357034400}}}]}"#
        );
    }

    #[test]
    fn a_generated_pair_signs_and_matches() {
        let pair = generate().unwrap();
        assert!(pair.private_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        assert!(pair.public_pem.starts_with("-----BEGIN PUBLIC KEY-----"));
        assert!(same_public_key(
            &public_pem(&pair.private_pem).unwrap(),
            &pair.public_pem
        ));
        let signer = UrlSigner::new(&pair.private_pem, "KID").unwrap();
        let url = signer.signed_url("https://d.example/a.mp4", 10);
        assert!(url.starts_with("https://d.example/a.mp4?Expires=10&Signature="));
        assert!(url.ends_with("&Key-Pair-Id=KID"));
        let cookies = signer.cookies("https://d.example/v/*", 10);
        let names: Vec<&str> = cookies.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            names,
            [
                "CloudFront-Policy",
                "CloudFront-Signature",
                "CloudFront-Key-Pair-Id"
            ]
        );
    }
}
