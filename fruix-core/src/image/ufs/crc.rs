//! FreeBSD's metadata check-hash: CRC-32C (Castagnoli, reflected), initial value all ones
//! and, unlike the standard CRC-32C, no final inversion (`calculate_crc32c(~0, ...)`).

/// The check-hash of `data` with the 4-byte field at `field` counted as zeros (the stored
/// hash never covers itself).
pub fn ckhash(data: &[u8], field: usize) -> u32 {
    let (head, rest) = data.split_at(field.min(data.len()));
    let tail = rest.get(4..).unwrap_or(&[]);
    let mut crc = crc32c::crc32c(head);
    if rest.len() >= 4 {
        crc = crc32c::crc32c_append(crc, &[0; 4]);
    }
    crc = crc32c::crc32c_append(crc, tail);
    // The crate returns the standard (inverted) value; FreeBSD keeps the raw register.
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_freebsd_calculate_crc32c() {
        // "123456789" with the hash field past the end: standard CRC-32C is 0xE3069283.
        assert_eq!(ckhash(b"123456789", 9), 0x1CF9_6D7C);
        // The field is hashed as zeros whatever it holds.
        assert_eq!(
            ckhash(b"ab\x01\x02\x03\x04cd", 2),
            ckhash(b"ab\0\0\0\0cd", 2)
        );
    }
}
