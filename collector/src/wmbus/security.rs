//! Payload security: legacy mode 2 (DES-CBC, IV 0), OMS mode 5 (AES-128-CBC, IV = M ‖ A ‖ ACC×8), mode 7 (AES-128-CBC with
//! IV 0 and keys derived by AES-CMAC, MAC checked) and the ELL AES-128-CTR session encryption.
//! All work in place on the frame buffer.

use aes::cipher::generic_array::GenericArray;
use aes::cipher::{BlockDecryptMut, KeyIvInit, StreamCipher};
use aes::Aes128;
use cmac::{Cmac, Mac};

type CbcDec = cbc::Decryptor<Aes128>;
type Ctr = ctr::Ctr128BE<Aes128>;

/// Decrypts whole 16-byte blocks in place with AES-128-CBC. `data.len()` must be a multiple
/// of 16 (callers check and report it).
pub fn cbc_decrypt(key: &[u8; 16], iv: &[u8; 16], data: &mut [u8]) {
    let mut dec = CbcDec::new(key.into(), iv.into());
    for block in data.chunks_exact_mut(16) {
        dec.decrypt_block_mut(GenericArray::from_mut_slice(block));
    }
}

/// Decrypts whole 8-byte blocks in place with DES-CBC (security mode 2, IV zero; the key is
/// the first 8 bytes of the stored key).
pub fn des_cbc_decrypt(key: &[u8; 8], data: &mut [u8]) {
    let mut dec = cbc::Decryptor::<des::Des>::new(key.into(), &[0u8; 8].into());
    for block in data.chunks_exact_mut(8) {
        dec.decrypt_block_mut(GenericArray::from_mut_slice(block));
    }
}

/// Applies AES-128-CTR keystream in place (encrypt = decrypt).
pub fn ctr_apply(key: &[u8; 16], iv: &[u8; 16], data: &mut [u8]) {
    let mut c = Ctr::new(key.into(), iv.into());
    c.apply_keystream(data);
}

/// AES-CMAC of the concatenation of `parts`.
pub fn cmac(key: &[u8; 16], parts: &[&[u8]]) -> [u8; 16] {
    // A 16-byte key is always a valid AES-128 key, so this cannot fail; keep it total anyway.
    let mut mac = <Cmac<Aes128> as Mac>::new(key.into());
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

/// OMS mode 5 IV: manufacturer (2) ‖ address (6) ‖ access number ×8.
pub fn mode5_iv(m: [u8; 2], a: [u8; 6], access: u8) -> [u8; 16] {
    let mut iv = [access; 16];
    iv[..2].copy_from_slice(&m);
    iv[2..8].copy_from_slice(&a);
    iv
}

/// OMS Vol. 2 key derivation (KDF-A): `CMAC(K, D ‖ MCR ‖ ID ‖ 07×7)` with D = 0 for Kenc,
/// 1 for Kmac.
pub fn derive_mode7_key(key: &[u8; 16], which: u8, mcr: [u8; 4], id: [u8; 4]) -> [u8; 16] {
    let mut input = [0x07u8; 16];
    input[0] = which;
    input[1..5].copy_from_slice(&mcr);
    input[5..9].copy_from_slice(&id);
    cmac(key, &[&input])
}

/// ELL AES-CTR initial counter: M ‖ A ‖ CC ‖ SN ‖ FN(0) ‖ BC(0).
pub fn ell_iv(m: [u8; 2], a: [u8; 6], cc: u8, sn: [u8; 4]) -> [u8; 16] {
    let mut iv = [0u8; 16];
    iv[..2].copy_from_slice(&m);
    iv[2..8].copy_from_slice(&a);
    iv[8] = cc;
    iv[9..13].copy_from_slice(&sn);
    iv
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmac_rfc4493_example_2() {
        let key: [u8; 16] = hex::decode("2b7e151628aed2a6abf7158809cf4f3c")
            .expect("hex")
            .try_into()
            .expect("16");
        let msg = hex::decode("6bc1bee22e409f96e93d7e117393172a").expect("hex");
        assert_eq!(
            hex::encode(cmac(&key, &[&msg])),
            "070a16b46b4d4144f79bdd9dd04a287c"
        );
    }
}
