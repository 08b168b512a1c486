//! G.711 per negotiated codec: the SDP's PCMA/PCMU mapped onto the shared conversions
//! of `ivr_audio::g711`.

use crate::sdp::Codec;

pub use ivr_audio::g711::{alaw_to_linear, linear_to_alaw, linear_to_ulaw, ulaw_to_linear};

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_codec_round_trips_within_g711_quantisation() {
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
