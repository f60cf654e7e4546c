//! A plain bit set over fragments or inodes.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bitmap {
    words: Vec<u64>,
    len: u64,
}

impl Bitmap {
    pub fn new(len: u64) -> Bitmap {
        Bitmap {
            words: vec![0; len.div_ceil(64) as usize],
            len,
        }
    }
    /// Bits past the end read as clear.
    pub fn get(&self, i: u64) -> bool {
        i < self.len && self.words[(i / 64) as usize] & (1 << (i % 64)) != 0
    }
    /// Sets bit `i`; returns whether it was already set. Bits past the end are ignored.
    pub fn set(&mut self, i: u64) -> bool {
        if i >= self.len {
            return false;
        }
        let w = &mut self.words[(i / 64) as usize];
        let was = *w & (1 << (i % 64)) != 0;
        *w |= 1 << (i % 64);
        was
    }
    /// Sets `start..end` (clipped to the map).
    pub fn set_range(&mut self, start: u64, end: u64) {
        let end = end.min(self.len);
        let mut i = start;
        while i < end {
            if i.is_multiple_of(64) && end - i >= 64 {
                self.words[(i / 64) as usize] = u64::MAX;
                i += 64;
            } else {
                self.set(i);
                i += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        let mut b = Bitmap::new(200);
        b.set_range(3, 150);
        assert!(!b.get(2) && b.get(3) && b.get(149) && !b.get(150));
        assert!(b.set(3));
        assert!(!b.set(190));
        assert!(!b.get(500));
    }
}
