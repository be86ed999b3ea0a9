//! The two key-derivation primitives everything else is built from: HKDF-SHA256 and HMAC-SHA256.

use hkdf::Hkdf;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use super::error::{CryptoError, CryptoResult};

/// HKDF-SHA256 of `ikm` with `salt` and `info`, `N` bytes long. `None` salt means 32 zero bytes.
pub(crate) fn hkdf<const N: usize>(salt: Option<&[u8]>, ikm: &[u8], info: &[u8]) -> CryptoResult<Zeroizing<[u8; N]>> {
    let mut okm = Zeroizing::new([0; N]);
    // Only an output longer than 255 × 32 bytes fails; every caller asks for a constant below that.
    Hkdf::<Sha256>::new(salt, ikm)
        .expand(info, okm.as_mut_slice())
        .map_err(|_| CryptoError::KeyDerivation)?;
    Ok(okm)
}

/// HMAC-SHA256 of `data` under `key`.
pub(crate) fn hmac(key: &[u8], data: &[u8]) -> CryptoResult<Zeroizing<[u8; 32]>> {
    // HMAC accepts keys of any length; the error case exists only in the generic trait.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).map_err(|_| CryptoError::KeyDerivation)?;
    mac.update(data);
    Ok(Zeroizing::new(mac.finalize().into_bytes().into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn unhex(text: &str) -> Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn hkdf_matches_rfc_5869_case_1() {
        let ikm = [0x0b; 22];
        let salt = unhex("000102030405060708090a0b0c");
        let info = unhex("f0f1f2f3f4f5f6f7f8f9");
        let okm = hkdf::<42>(Some(&salt), &ikm, &info).unwrap();
        assert_eq!(
            hex(okm.as_slice()),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
        );
    }

    #[test]
    fn hmac_matches_rfc_4231_case_2() {
        let mac = hmac(b"Jefe", b"what do ya want for nothing?").unwrap();
        assert_eq!(
            hex(mac.as_slice()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
