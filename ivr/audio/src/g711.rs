//! G.711 A-law and µ-law (ITU-T G.711), the two codecs of the French PSTN trunk:
//! 16-bit linear PCM to and from one byte per sample.

pub fn linear_to_ulaw(sample: i16) -> u8 {
    const BIAS: i32 = 0x84;
    const CLIP: i32 = 32635;
    let mut s = sample as i32;
    let sign = if s < 0 { 0x80 } else { 0 };
    if s < 0 {
        s = -s;
    }
    s = s.min(CLIP) + BIAS;
    let mut exponent = 7;
    let mut mask = 0x4000;
    while exponent > 0 && s & mask == 0 {
        exponent -= 1;
        mask >>= 1;
    }
    let mantissa = (s >> (exponent + 3)) & 0x0F;
    !(sign | (exponent << 4) as u8 as i32 | mantissa) as u8
}

pub fn ulaw_to_linear(b: u8) -> i16 {
    let b = !b;
    let sign = b & 0x80;
    let exponent = ((b >> 4) & 0x07) as i32;
    let mantissa = (b & 0x0F) as i32;
    let magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84;
    (if sign != 0 { -magnitude } else { magnitude }) as i16
}

pub fn linear_to_alaw(sample: i16) -> u8 {
    let mut s = sample as i32;
    let mask = if s >= 0 {
        0xD5
    } else {
        s = -s - 1;
        0x55
    };
    s >>= 3;
    let seg = match s {
        0..=0x1F => 0,
        0x20..=0x3F => 1,
        0x40..=0x7F => 2,
        0x80..=0xFF => 3,
        0x100..=0x1FF => 4,
        0x200..=0x3FF => 5,
        0x400..=0x7FF => 6,
        _ => 7,
    };
    let mant = if seg < 2 { (s >> 1) & 0x0F } else { (s >> seg) & 0x0F };
    let aval = (seg << 4) | mant;
    (aval ^ mask) as u8
}

pub fn alaw_to_linear(b: u8) -> i16 {
    let a = b ^ 0x55;
    let seg = ((a & 0x70) >> 4) as i32;
    let mut t = ((a & 0x0F) as i32) << 4;
    match seg {
        0 => t += 8,
        1 => t += 0x108,
        _ => {
            t += 0x108;
            t <<= seg - 1;
        }
    }
    (if a & 0x80 != 0 { t } else { -t }) as i16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_error_is_within_g711_quantisation() {
        for s in (-32000i32..32000).step_by(97) {
            let s = s as i16;
            for (name, dec) in [("A-law", alaw_to_linear(linear_to_alaw(s))), ("µ-law", ulaw_to_linear(linear_to_ulaw(s)))] {
                let err = (i32::from(dec) - i32::from(s)).abs();
                // Logarithmic companding: error grows with amplitude, ~1/16 of it.
                assert!(err <= i32::from(s).abs() / 14 + 16, "{name} {s} -> {dec} (err {err})");
            }
        }
    }

    #[test]
    fn silence_codes() {
        assert_eq!(linear_to_alaw(0), 0xD5);
        assert_eq!(linear_to_ulaw(0), 0xFF);
    }

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
