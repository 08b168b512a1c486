//! G.711 A-law and µ-law (ITU-T G.711), the two codecs of the French PSTN trunk.

use crate::sdp::Codec;

pub fn encode(codec: Codec, pcm: &[i16], out: &mut Vec<u8>) {
    match codec {
        Codec::Pcma => out.extend(pcm.iter().map(|&s| linear_to_alaw(s))),
        Codec::Pcmu => out.extend(pcm.iter().map(|&s| linear_to_ulaw(s))),
    }
}

pub fn decode(codec: Codec, payload: &[u8], out: &mut Vec<i16>) {
    match codec {
        Codec::Pcma => out.extend(payload.iter().map(|&b| alaw_to_linear(b))),
        Codec::Pcmu => out.extend(payload.iter().map(|&b| ulaw_to_linear(b))),
    }
}

/// The encoded byte for digital silence (what loss concealment falls back to).
pub fn silence(codec: Codec) -> u8 {
    match codec {
        Codec::Pcma => 0xD5,
        Codec::Pcmu => 0xFF,
    }
}

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
        for codec in [Codec::Pcma, Codec::Pcmu] {
            for s in (-32000i32..32000).step_by(97) {
                let s = s as i16;
                let mut enc = Vec::new();
                encode(codec, &[s], &mut enc);
                let mut dec = Vec::new();
                decode(codec, &enc, &mut dec);
                let err = (dec[0] as i32 - s as i32).abs();
                // Logarithmic companding: error grows with amplitude, ~1/16 of it.
                assert!(err <= (s as i32).abs() / 14 + 16, "{codec:?} {s} -> {} (err {err})", dec[0]);
            }
        }
    }

    #[test]
    fn known_values() {
        assert_eq!(linear_to_alaw(0), 0xD5);
        assert_eq!(linear_to_ulaw(0), 0xFF);
        assert_eq!(alaw_to_linear(0xD5), 8);
        assert_eq!(ulaw_to_linear(0xFF), 0);
        assert_eq!(silence(Codec::Pcma), linear_to_alaw(0));
    }
}
