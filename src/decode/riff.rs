//! A look at a WAV file's `fmt ` chunk before symphonia opens it, for two
//! reasons: to name the codec of a WAV this build cannot decode (GSM 6.10,
//! ADPCM, G.72x: common in telephony) instead of "unsupported wave
//! format", and to refuse sample rates, channel counts and sample widths
//! that symphonia 0.5 would panic on (a rate of zero, 0-bit extensible
//! PCM). Reads only the bytes it is given; never panics.

/// The fields of a `fmt ` chunk that decide whether the file decodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct WavFmt {
    /// `wFormatTag`; for WAVE_FORMAT_EXTENSIBLE, the sub-format's tag.
    pub tag: u16,
    pub extensible: bool,
    pub channels: u16,
    pub rate: u32,
    pub bits: u16,
}

const PCM: u16 = 0x0001;
const IEEE_FLOAT: u16 = 0x0003;
const ALAW: u16 = 0x0006;
const MULAW: u16 = 0x0007;
const EXTENSIBLE: u16 = 0xfffe;

/// What the first bytes of a RIFF/WAVE file say.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct WavHead {
    pub fmt: Option<WavFmt>,
    /// Offset of the data chunk's first byte, and the length its header
    /// declares.
    pub data: Option<(u64, u32)>,
}

impl WavHead {
    /// Whether the data chunk claims more bytes than the file holds: a file
    /// cut short, or one written to a pipe with a placeholder length
    /// (0xFFFFFFFF from ffmpeg, 0x7FFFF000 from sox). Its header's duration
    /// then says nothing about the audio.
    pub fn overstates_length(&self, file_len: u64) -> bool {
        self.data
            .is_some_and(|(at, len)| at.saturating_add(u64::from(len)) > file_len)
    }
}

/// The `fmt ` and `data` chunk headers of a RIFF/WAVE file, if `head` (the
/// file's first bytes) is one.
pub(super) fn sniff(head: &[u8]) -> Option<WavHead> {
    if head.get(0..4)? != b"RIFF" || head.get(8..12)? != b"WAVE" {
        return None;
    }
    let mut out = WavHead::default();
    let mut pos = 12usize;
    // A bounded walk: a crafted file cannot make this loop long.
    for _ in 0..64 {
        let Some(tag) = head.get(pos..pos + 4) else {
            break;
        };
        let Some(len) = u32_at(head, pos + 4) else {
            break;
        };
        let body = pos + 8;
        if tag == b"fmt " && out.fmt.is_none() {
            out.fmt = parse_fmt(head, body, len as usize);
        }
        if tag == b"data" {
            out.data = Some((body as u64, len));
            break;
        }
        let Some(next) = body
            .checked_add(len as usize)
            .and_then(|p| p.checked_add((len & 1) as usize))
        else {
            break;
        };
        pos = next;
    }
    Some(out)
}

fn parse_fmt(head: &[u8], body: usize, len: usize) -> Option<WavFmt> {
    let f = head.get(body..body.checked_add(len.min(40))?)?;
    let format = u16_at(f, 0)?;
    let extensible = format == EXTENSIBLE;
    let tag = if extensible {
        // SubFormat GUID: its first two bytes are the format tag.
        u16_at(f, 24).unwrap_or(EXTENSIBLE)
    } else {
        format
    };
    Some(WavFmt {
        tag,
        extensible,
        channels: u16_at(f, 2)?,
        rate: u32_at(f, 4)?,
        bits: u16_at(f, 14)?,
    })
}

impl WavFmt {
    /// The codec's name when this build cannot decode it.
    pub fn unsupported_codec(&self) -> Option<String> {
        let ok = match self.tag {
            PCM => matches!(self.bits, 8 | 16 | 24 | 32),
            IEEE_FLOAT => matches!(self.bits, 32 | 64),
            ALAW => true,
            // Symphonia 0.5 knows µ-law only under its plain tag, not as
            // an extensible sub-format.
            MULAW => !self.extensible,
            _ => false,
        };
        if ok {
            return None;
        }
        let name = match self.tag {
            PCM => format!("{}-bit integer PCM", self.bits),
            IEEE_FLOAT => format!("{}-bit float PCM", self.bits),
            MULAW => "pcm_mulaw in WAVE_FORMAT_EXTENSIBLE".to_string(),
            0x0002 => "adpcm_ms".to_string(),
            0x0011 => "adpcm_ima_wav".to_string(),
            0x0031 => "gsm_ms (GSM 6.10)".to_string(),
            0x0040 => "g721 (G.721 ADPCM)".to_string(),
            0x0055 => "mp3 inside WAV".to_string(),
            0x0064 => "g726 (G.726 ADPCM)".to_string(),
            0x0065 => "g722 (G.722 ADPCM)".to_string(),
            other => return Some(format!("WAV format tag {other:#06x}")),
        };
        Some(format!("{name} (WAV format tag {:#06x})", self.tag))
    }
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_le_bytes([*s.first()?, *s.get(1)?]))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes(s.try_into().ok()?))
}
