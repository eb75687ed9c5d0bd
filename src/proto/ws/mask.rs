//! RFC 6455 §5.3 payload masking: XOR with a 4-byte key, in place.
//!
//! Owns only the arithmetic. Masking is its own inverse, so the same function masks (clients)
//! and unmasks (servers). It never allocates and never looks at frame structure: callers tell it
//! how many payload bytes came before `buf` so masking can resume across chunk boundaries.

/// XORs `buf` in place with `key`, as if `buf` started `offset` bytes into the payload.
///
/// Works a 64-bit word at a time (the key repeated twice) because byte-at-a-time XOR is the
/// hottest loop on a busy server; the tail that does not fill a word is done byte by byte.
pub fn apply_mask(buf: &mut [u8], key: [u8; 4], offset: usize) {
    // Payload byte i uses key[i % 4]; rotating once up front lets every word start at key[0].
    let mut key = key;
    key.rotate_left(offset % 4);
    let [a, b, c, d] = key;
    let word = u64::from_ne_bytes([a, b, c, d, a, b, c, d]);

    let mut chunks = buf.chunks_exact_mut(8);
    for chunk in &mut chunks {
        if let Ok(bytes) = <[u8; 8]>::try_from(&*chunk) {
            chunk.copy_from_slice(&(u64::from_ne_bytes(bytes) ^ word).to_ne_bytes());
        }
    }
    // Each word covers 8 bytes, a multiple of 4, so the remainder starts at key[0] again.
    for (byte, k) in chunks.into_remainder().iter_mut().zip(key.iter().cycle()) {
        *byte ^= k;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn naive(buf: &mut [u8], key: [u8; 4], offset: usize) {
        for (i, byte) in buf.iter_mut().enumerate() {
            *byte ^= key[(offset + i) % 4];
        }
    }

    #[test]
    fn rfc_example_hello() {
        // RFC 6455 §5.7: "Hello" masked with 37 fa 21 3d.
        let mut buf = *b"Hello";
        apply_mask(&mut buf, [0x37, 0xfa, 0x21, 0x3d], 0);
        assert_eq!(buf, [0x7f, 0x9f, 0x4d, 0x51, 0x58]);
    }

    proptest! {
        #[test]
        fn word_at_a_time_equals_naive(
            data in proptest::collection::vec(any::<u8>(), 0..200),
            key in any::<[u8; 4]>(),
            offset in 0usize..1000,
        ) {
            let mut fast = data.clone();
            let mut slow = data;
            apply_mask(&mut fast, key, offset);
            naive(&mut slow, key, offset);
            prop_assert_eq!(fast, slow);
        }

        #[test]
        fn mask_is_an_involution(
            data in proptest::collection::vec(any::<u8>(), 0..200),
            key in any::<[u8; 4]>(),
            offset in 0usize..1000,
        ) {
            let mut buf = data.clone();
            apply_mask(&mut buf, key, offset);
            apply_mask(&mut buf, key, offset);
            prop_assert_eq!(buf, data);
        }

        #[test]
        fn masking_in_chunks_equals_masking_at_once(
            data in proptest::collection::vec(any::<u8>(), 0..200),
            key in any::<[u8; 4]>(),
            split in any::<prop::sample::Index>(),
        ) {
            let at = split.index(data.len() + 1);
            let mut whole = data.clone();
            apply_mask(&mut whole, key, 0);
            let mut parts = data;
            let (head, tail) = parts.split_at_mut(at);
            apply_mask(head, key, 0);
            apply_mask(tail, key, at);
            prop_assert_eq!(parts, whole);
        }
    }
}
