//! The X25519 key exchange of every handshake: AWS-LC's (through aws-lc-rs),
//! keyed from the operating system's random source through ring.
//!
//! Why AWS-LC's: one full handshake's key exchange (a key pair and one
//! agreement) costs about 40 µs there against about 80 µs in ring on x86-64;
//! against nginx its share of a check's CPU fell from 17 % to 11 %
//! (`bench/RESULTS.md`, "Issue 22: X25519 from aws-lc-rs, keyed by the
//! OS"). Why keyed through ring: AWS-LC seeds its own random generator from
//! CPU jitter the first time it is asked for randomness, 26-49 ms of CPU at
//! start-up; a private key made from 32 bytes of `getrandom` never asks it.
//! Everything else (P-256 and P-384, ciphers, signatures, randomness) stays
//! ring's.
//!
//! What it keeps, as rustls's own X25519 does:
//! - a fresh private key for each handshake, never reused;
//! - 32 bytes from the OS's CSPRNG (`getrandom`), wiped from our memory
//!   once AWS-LC holds them (AWS-LC wipes its copy when the key is freed);
//! - a peer key share of any length but 32 bytes, or one that yields the
//!   all-zero secret (a low-order point, RFC 7748 §6.1), refused as an
//!   invalid key share;
//! - constant-time arithmetic (AWS-LC's formally verified s2n-bignum code
//!   on x86-64 and Arm64).

use aws_lc_rs::agreement::{self, PrivateKey, PublicKey, UnparsedPublicKey};
use ring::rand::{SecureRandom, SystemRandom};
use rustls::crypto::{ActiveKeyExchange, GetRandomFailed, SharedSecret, SupportedKxGroup};
use rustls::{Error, NamedGroup, PeerMisbehaved};
use zeroize::Zeroizing;

/// X25519 for rustls's `kx_groups`, in place of ring's.
#[derive(Debug)]
pub struct X25519;

impl SupportedKxGroup for X25519 {
    fn start(&self) -> Result<Box<dyn ActiveKeyExchange>, Error> {
        let mut secret = Zeroizing::new([0u8; 32]);
        SystemRandom::new().fill(secret.as_mut()).map_err(|_| GetRandomFailed)?;
        Ok(Box::new(KeyExchange::from_secret(secret.as_ref())?))
    }

    fn name(&self) -> NamedGroup {
        NamedGroup::X25519
    }
}

/// One handshake's key pair.
struct KeyExchange {
    private: PrivateKey,
    public: PublicKey,
}

impl KeyExchange {
    fn from_secret(secret: &[u8]) -> Result<KeyExchange, Error> {
        let failed = || Error::General("X25519 key generation failed".into());
        let private = PrivateKey::from_private_key(&agreement::X25519, secret).map_err(|_| failed())?;
        let public = private.compute_public_key().map_err(|_| failed())?;
        Ok(KeyExchange { private, public })
    }
}

impl ActiveKeyExchange for KeyExchange {
    fn complete(self: Box<Self>, peer: &[u8]) -> Result<SharedSecret, Error> {
        if peer.len() != 32 {
            return Err(PeerMisbehaved::InvalidKeyShare.into());
        }
        let peer = UnparsedPublicKey::new(&agreement::X25519, peer);
        agreement::agree(&self.private, peer, (), |secret| Ok(SharedSecret::from(secret)))
            .map_err(|()| PeerMisbehaved::InvalidKeyShare.into())
    }

    fn pub_key(&self) -> &[u8] {
        self.public.as_ref()
    }

    fn group(&self) -> NamedGroup {
        NamedGroup::X25519
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(text: &str) -> Vec<u8> {
        (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap()).collect()
    }

    /// RFC 7748 §6.1: Alice's and Bob's keys and their shared secret.
    #[test]
    fn agrees_with_rfc_7748s_test_vector() {
        let alice =
            KeyExchange::from_secret(&hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")).unwrap();
        assert_eq!(alice.pub_key(), hex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"));
        let bob_public = hex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
        let shared = Box::new(alice).complete(&bob_public).unwrap();
        assert_eq!(shared.secret_bytes(), hex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"));
    }

    /// Either side may be ring's: both reach the same secret.
    #[test]
    fn agrees_with_rings_x25519() {
        let ring_x25519 = rustls::crypto::ring::kx_group::X25519;
        let ours = X25519.start().unwrap();
        let theirs = ring_x25519.start().unwrap();
        let (our_public, their_public) = (ours.pub_key().to_vec(), theirs.pub_key().to_vec());
        let ours = ours.complete(&their_public).unwrap();
        let theirs = theirs.complete(&our_public).unwrap();
        assert_eq!(ours.secret_bytes(), theirs.secret_bytes());
        assert_ne!(ours.secret_bytes(), [0u8; 32]);
    }

    #[test]
    fn every_handshake_gets_a_fresh_key() {
        let (first, second) = (X25519.start().unwrap(), X25519.start().unwrap());
        assert_ne!(first.pub_key(), second.pub_key());
        assert_eq!(first.pub_key().len(), 32);
        assert_eq!(first.group(), NamedGroup::X25519);
    }

    /// A share of the wrong length, and low-order points whose secret is all
    /// zeros (RFC 7748 §6.1; the zero point and the point of order 8 from
    /// curve25519's list of small-order points), are refused.
    #[test]
    fn refuses_bad_key_shares() {
        let order_8 = hex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800");
        for share in [vec![9u8; 31], vec![9u8; 33], vec![], vec![0u8; 32], order_8] {
            let result = X25519.start().unwrap().complete(&share);
            assert_eq!(result.err(), Some(Error::PeerMisbehaved(PeerMisbehaved::InvalidKeyShare)), "{share:02x?}");
        }
    }
}
