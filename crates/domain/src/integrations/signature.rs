//! Webhook signatures.
//!
//! - Shops (Shopify `X-Shopify-Hmac-Sha256`, WooCommerce
//!   `X-WC-Webhook-Signature`): base64 of HMAC-SHA256 over the raw body,
//!   keyed with the shop's shared secret as UTF-8 bytes.
//! - Standard Webhooks (<https://www.standardwebhooks.com/>), both ways:
//!   `webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`
//!   keyed with the base64-decoded part of a `whsec_…` secret; several
//!   space-separated signatures may be given (key rotation), any one
//!   matching is enough; a timestamp more than [`TOLERANCE_SECONDS`] away
//!   from now is refused (replays).
//!
//! Comparisons are constant-time (`hmac`'s `verify_slice`).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use thiserror::Error;

type HmacSha256 = Hmac<Sha256>;

/// How far a Standard Webhooks timestamp may be from now (either way).
pub const TOLERANCE_SECONDS: i64 = 5 * 60;

/// The prefix of a Standard Webhooks secret.
pub const SECRET_PREFIX: &str = "whsec_";

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SignatureError {
    #[error("the {0} header is missing")]
    Missing(&'static str),
    #[error("the signature does not match")]
    Mismatch,
    #[error("the {0} header is malformed")]
    Malformed(&'static str),
    #[error(
        "the timestamp is {0} seconds away from now (more than 5 minutes): refused as a replay"
    )]
    Stale(i64),
    #[error("the secret is not usable: {0}")]
    BadSecret(String),
}

fn mac(key: &[u8]) -> Result<HmacSha256, SignatureError> {
    HmacSha256::new_from_slice(key).map_err(|e| SignatureError::BadSecret(e.to_string()))
}

/// base64(HMAC-SHA256(secret, body)) — what Shopify and WooCommerce send.
pub fn shop_signature(secret: &str, body: &[u8]) -> Result<String, SignatureError> {
    let mut m = mac(secret.as_bytes())?;
    m.update(body);
    Ok(STANDARD.encode(m.finalize().into_bytes()))
}

/// Checks a shop's signature header value against the raw body.
pub fn verify_shop(
    secret: &str,
    body: &[u8],
    header: Option<&str>,
    header_name: &'static str,
) -> Result<(), SignatureError> {
    let given = header
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .ok_or(SignatureError::Missing(header_name))?;
    let given = STANDARD
        .decode(given)
        .map_err(|_| SignatureError::Malformed(header_name))?;
    let mut m = mac(secret.as_bytes())?;
    m.update(body);
    m.verify_slice(&given).map_err(|_| SignatureError::Mismatch)
}

/// The key bytes of a `whsec_…` secret.
pub fn secret_key(secret: &str) -> Result<Vec<u8>, SignatureError> {
    let b64 = secret.strip_prefix(SECRET_PREFIX).unwrap_or(secret);
    STANDARD
        .decode(b64)
        .map_err(|_| SignatureError::BadSecret("not base64 after whsec_".into()))
}

/// A new `whsec_…` secret from 24 random bytes (the caller's randomness).
pub fn new_secret(random: &[u8; 24]) -> String {
    format!("{SECRET_PREFIX}{}", STANDARD.encode(random))
}

/// The `webhook-signature` value for a message: `v1,<base64>`.
pub fn standard_sign(
    secret: &str,
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
) -> Result<String, SignatureError> {
    let mut m = mac(&secret_key(secret)?)?;
    m.update(format!("{msg_id}.{timestamp}.").as_bytes());
    m.update(body);
    Ok(format!("v1,{}", STANDARD.encode(m.finalize().into_bytes())))
}

/// Verifies Standard Webhooks headers (`webhook-id`, `webhook-timestamp`,
/// `webhook-signature`) against the raw body at `now` (unix seconds).
pub fn standard_verify(
    secret: &str,
    msg_id: Option<&str>,
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: i64,
) -> Result<(), SignatureError> {
    let msg_id = msg_id
        .filter(|v| !v.is_empty())
        .ok_or(SignatureError::Missing("webhook-id"))?;
    let ts_text = timestamp.ok_or(SignatureError::Missing("webhook-timestamp"))?;
    let signature = signature.ok_or(SignatureError::Missing("webhook-signature"))?;
    let ts: i64 = ts_text
        .trim()
        .parse()
        .map_err(|_| SignatureError::Malformed("webhook-timestamp"))?;
    let key = secret_key(secret)?;
    let mut checked_any = false;
    for part in signature.split(' ') {
        let Some(b64) = part.strip_prefix("v1,") else {
            continue;
        };
        let Ok(given) = STANDARD.decode(b64) else {
            continue;
        };
        checked_any = true;
        let mut m = mac(&key)?;
        m.update(format!("{msg_id}.{ts}.").as_bytes());
        m.update(body);
        if m.verify_slice(&given).is_ok() {
            // The signature covers the timestamp, so a replay cannot move it.
            let skew = now - ts;
            if skew.abs() > TOLERANCE_SECONDS {
                return Err(SignatureError::Stale(skew));
            }
            return Ok(());
        }
    }
    if checked_any {
        Err(SignatureError::Mismatch)
    } else {
        Err(SignatureError::Malformed("webhook-signature"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shop_signature_round_trips_and_a_changed_body_fails() {
        let sig = shop_signature("hush", b"{\"id\":1}").unwrap();
        assert!(verify_shop("hush", b"{\"id\":1}", Some(&sig), "x").is_ok());
        assert_eq!(
            verify_shop("hush", b"{\"id\":2}", Some(&sig), "x"),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_shop("hush", b"{}", None, "x"),
            Err(SignatureError::Missing("x"))
        );
    }

    #[test]
    fn standard_webhooks_example_from_the_specification_verifies() {
        // The specification's reference example (svix / standard-webhooks
        // test vectors).
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
        let ts = 1614265330;
        let body = br#"{"test": 2432232314}"#;
        let sig = standard_sign(secret, id, ts, body).unwrap();
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        assert!(standard_verify(
            secret,
            Some(id),
            Some("1614265330"),
            Some(&sig),
            body,
            ts + 10
        )
        .is_ok());
    }

    #[test]
    fn an_old_timestamp_is_refused_even_with_a_good_signature() {
        let secret = new_secret(&[7; 24]);
        let sig = standard_sign(&secret, "m1", 1000, b"x").unwrap();
        assert_eq!(
            standard_verify(
                &secret,
                Some("m1"),
                Some("1000"),
                Some(&sig),
                b"x",
                1000 + 301
            ),
            Err(SignatureError::Stale(301))
        );
        assert!(standard_verify(
            &secret,
            Some("m1"),
            Some("1000"),
            Some(&sig),
            b"x",
            1000 + 299
        )
        .is_ok());
    }

    #[test]
    fn any_of_several_signatures_may_match() {
        let secret = new_secret(&[1; 24]);
        let good = standard_sign(&secret, "m", 5, b"b").unwrap();
        let header = format!("v1,AAAA {good}");
        assert!(standard_verify(&secret, Some("m"), Some("5"), Some(&header), b"b", 5).is_ok());
        assert_eq!(
            standard_verify(&secret, Some("m"), Some("5"), Some("v1,AAAA"), b"b", 5),
            Err(SignatureError::Mismatch)
        );
    }
}
