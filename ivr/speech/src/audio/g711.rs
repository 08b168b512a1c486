//! G.711 A-law and µ-law to linear PCM (ITU-T G.711), the two telephone codecs.

pub fn alaw_to_linear(a: u8) -> i16 {
    let a = a ^ 0x55;
    let seg = (a & 0x70) >> 4;
    let mut t = i32::from(a & 0x0f) << 4;
    t = match seg {
        0 => t + 8,
        1 => t + 0x108,
        s => (t + 0x108) << (s - 1),
    };
    (if a & 0x80 != 0 { t } else { -t }) as i16
}

pub fn ulaw_to_linear(u: u8) -> i16 {
    const BIAS: i32 = 0x84;
    let u = !u;
    let mut t = (i32::from(u & 0x0f) << 3) + BIAS;
    t <<= (u & 0x70) >> 4;
    (if u & 0x80 != 0 { BIAS - t } else { t - BIAS }) as i16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_code_points() {
        // Silence codes of each law, and the extremes.
        assert_eq!(ulaw_to_linear(0xff), 0);
        assert_eq!(ulaw_to_linear(0x7f), 0);
        assert_eq!(ulaw_to_linear(0x80), 32124);
        assert_eq!(ulaw_to_linear(0x00), -32124);
        assert_eq!(alaw_to_linear(0xd5), 8);
        assert_eq!(alaw_to_linear(0x55), -8);
        assert_eq!(alaw_to_linear(0xaa), 32256);
        assert_eq!(alaw_to_linear(0x2a), -32256);
    }

    #[test]
    fn decoding_is_monotonic_over_positive_codes() {
        let mut prev = -1i32;
        for seg in 0..8u8 {
            for step in 0..16u8 {
                // µ-law positive codes: the stored byte is the inverse of (seg, step), sign bit 0.
                let v = i32::from(ulaw_to_linear(!(seg << 4 | step)));
                assert!(v > prev, "µ-law not increasing at seg {seg} step {step}");
                prev = v;
            }
        }
    }
}
