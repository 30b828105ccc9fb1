//! The POST body's signature: `X-Tandem-Signature: sha256=<hex>`, the
//! HMAC-SHA256 (RFC 2104, FIPS 180-4) of the exact body bytes keyed with
//! the webhook's secret, in lowercase hex. A receiver recomputes it over
//! the bytes it got and compares in constant time ([`verify`]).

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The signature header's value for `body` under `secret`:
/// `sha256=` followed by 64 lowercase hex digits.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let tag = mac(secret, body).finalize().into_bytes();
    let mut out = String::with_capacity(7 + 2 * tag.len());
    out.push_str("sha256=");
    for byte in tag {
        out.push(hex_digit(byte >> 4));
        out.push(hex_digit(byte & 0x0f));
    }
    out
}

/// Whether `header` (an `X-Tandem-Signature` value) signs `body` under
/// `secret`; the comparison takes the same time whatever the mismatch.
pub fn verify(secret: &[u8], body: &[u8], header: &str) -> bool {
    let Some(hex) = header.strip_prefix("sha256=") else {
        return false;
    };
    let Some(tag) = decode_hex(hex) else {
        return false;
    };
    mac(secret, body).verify_slice(&tag).is_ok()
}

fn mac(secret: &[u8], body: &[u8]) -> Hmac<Sha256> {
    // HMAC takes keys of any length (long ones are hashed first).
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(body);
    mac
}

fn hex_digit(nibble: u8) -> char {
    char::from(b"0123456789abcdef"[usize::from(nibble)])
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if hex.len() % 2 != 0 {
        return None;
    }
    let value = |c: u8| {
        char::from(c)
            .to_digit(16)
            .and_then(|d| u8::try_from(d).ok())
    };
    hex.as_bytes()
        .chunks(2)
        .map(|pair| Some(value(pair[0])? << 4 | value(pair[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4231 §4.3, test case 2: key "Jefe", data "what do ya want for
    /// nothing?".
    #[test]
    fn rfc4231_case_2() {
        assert_eq!(
            sign(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    /// RFC 4231 §4.7, test case 6: a 131-byte key, longer than the block.
    #[test]
    fn rfc4231_case_6_long_key() {
        let key = [0xaa_u8; 131];
        assert_eq!(
            sign(
                &key,
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            ),
            "sha256=60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn verify_accepts_only_the_right_signature() {
        let good = sign(b"k", b"{\"a\":1}");
        assert!(verify(b"k", b"{\"a\":1}", &good));
        assert!(verify(
            b"k",
            b"{\"a\":1}",
            &good.to_uppercase().replace("SHA256=", "sha256=")
        ));
        assert!(!verify(b"k", b"{\"a\":2}", &good));
        assert!(!verify(b"other", b"{\"a\":1}", &good));
        assert!(!verify(b"k", b"{\"a\":1}", &good[7..]));
        assert!(!verify(b"k", b"{\"a\":1}", "sha256=zz"));
        assert!(!verify(b"k", b"{\"a\":1}", "sha256=abc"));
    }
}
