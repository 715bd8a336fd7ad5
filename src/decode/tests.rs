//! Unit tests for decoding: WAV files of every supported sample format,
//! built in memory by the helpers below (a RIFF header writer and G.711
//! encoders), the limits, damaged and hostile input, and how errors are
//! classified and worded. Real encoders (MP3, FLAC, Vorbis via sox) are
//! exercised by `tests/decode.rs`.

use super::*;

const PCM: u16 = 0x0001;
const FLOAT: u16 = 0x0003;
const ALAW: u16 = 0x0006;
const MULAW: u16 = 0x0007;

// ---- building WAV files -------------------------------------------------------

/// A RIFF/WAVE file: a `fmt ` chunk (18 bytes with `cbSize` for A-law and
/// µ-law, as symphonia requires, else 16) and a `data` chunk holding
/// `data`. `declared` overrides the length the data chunk's header claims
/// (u32::MAX also sets the RIFF length to u32::MAX, as ffmpeg does when
/// writing to a pipe).
fn wav(
    tag: u16,
    channels: u16,
    rate: u32,
    bits: u16,
    data: &[u8],
    declared: Option<u32>,
) -> Vec<u8> {
    let fmt_len: u32 = if matches!(tag, ALAW | MULAW) { 18 } else { 16 };
    let data_len = declared.unwrap_or(data.len() as u32);
    let riff_len = if data_len == u32::MAX {
        u32::MAX
    } else {
        (4 + 8 + fmt_len + 8).saturating_add(data_len)
    };
    let block = channels * bits.div_ceil(8);
    let mut v = Vec::new();
    v.extend(b"RIFF");
    v.extend(riff_len.to_le_bytes());
    v.extend(b"WAVE");
    v.extend(b"fmt ");
    v.extend(fmt_len.to_le_bytes());
    v.extend(tag.to_le_bytes());
    v.extend(channels.to_le_bytes());
    v.extend(rate.to_le_bytes());
    v.extend(rate.wrapping_mul(u32::from(block)).to_le_bytes());
    v.extend(block.to_le_bytes());
    v.extend(bits.to_le_bytes());
    if fmt_len == 18 {
        v.extend(0u16.to_le_bytes());
    }
    v.extend(b"data");
    v.extend(data_len.to_le_bytes());
    v.extend(data);
    v
}

/// Interleaved samples in [-1, 1], encoded as the format tag and width say.
fn encode(tag: u16, bits: u16, samples: &[f32]) -> Vec<u8> {
    let mut out = Vec::new();
    for &x in samples {
        let x = f64::from(x.clamp(-1.0, 1.0));
        let s16 = (x * 32767.0).round() as i16;
        match (tag, bits) {
            (PCM, 8) => out.push(((x * 127.0).round() + 128.0) as u8),
            (PCM, 16) => out.extend(s16.to_le_bytes()),
            (PCM, 24) => out.extend(&((x * 8_388_607.0).round() as i32).to_le_bytes()[..3]),
            (PCM, 32) => out.extend(((x * 2_147_483_647.0).round() as i32).to_le_bytes()),
            (FLOAT, 32) => out.extend((x as f32).to_le_bytes()),
            (FLOAT, 64) => out.extend(x.to_le_bytes()),
            (MULAW, 8) => out.push(linear_to_ulaw(s16)),
            (ALAW, 8) => out.push(linear_to_alaw(s16)),
            other => panic!("no encoder for {other:?}"),
        }
    }
    out
}

/// G.711 µ-law, after the Sun reference implementation (g711.c).
fn linear_to_ulaw(pcm: i16) -> u8 {
    const SEG_END: [i32; 8] = [0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF];
    let mut v = i32::from(pcm) >> 2;
    let mask = if v < 0 {
        v = -v;
        0x7F
    } else {
        0xFF
    };
    v = v.min(8159) + (0x84 >> 2);
    let seg = SEG_END.iter().position(|&e| v <= e).unwrap_or(8) as i32;
    let u = if seg >= 8 {
        0x7F
    } else {
        (seg << 4) | ((v >> (seg + 1)) & 0xF)
    };
    (u ^ mask) as u8
}

/// G.711 A-law, after the Sun reference implementation (g711.c).
fn linear_to_alaw(pcm: i16) -> u8 {
    const SEG_END: [i32; 8] = [0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF];
    let mut v = i32::from(pcm) >> 3;
    let mask = if v >= 0 {
        0xD5
    } else {
        v = -v - 1;
        0x55
    };
    let seg = SEG_END.iter().position(|&e| v <= e).unwrap_or(8) as i32;
    let a = if seg >= 8 {
        0x7F
    } else if seg < 2 {
        (seg << 4) | ((v >> 1) & 0xF)
    } else {
        (seg << 4) | ((v >> seg) & 0xF)
    };
    (a ^ mask) as u8
}

fn tone(freq: f64, rate: u32, secs: f64, amp: f64) -> Vec<f32> {
    let n = (secs * f64::from(rate)).round() as usize;
    (0..n)
        .map(|i| {
            (amp * (2.0 * std::f64::consts::PI * freq * i as f64 / f64::from(rate)).sin()) as f32
        })
        .collect()
}

fn interleave(chans: &[Vec<f32>]) -> Vec<f32> {
    let n = chans.iter().map(Vec::len).min().unwrap_or(0);
    (0..n)
        .flat_map(|i| chans.iter().map(move |c| c[i]))
        .collect()
}

/// A tone as a mono WAV file.
fn tone_wav(tag: u16, bits: u16, rate: u32, secs: f64) -> Vec<u8> {
    wav(
        tag,
        1,
        rate,
        bits,
        &encode(tag, bits, &tone(440.0, rate, secs, 0.5)),
        None,
    )
}

// ---- measuring decoded audio ----------------------------------------------------

fn peak(x: &[f32]) -> f32 {
    x.iter().fold(0.0, |m, v| m.max(v.abs()))
}

/// Frequency from rising zero crossings over the middle of the signal.
fn frequency(x: &[f32]) -> f64 {
    let mid = &x[x.len() / 8..x.len() * 7 / 8];
    let rising = mid.windows(2).filter(|w| w[0] < 0.0 && w[1] >= 0.0).count();
    rising as f64 * f64::from(Pcm16k::RATE) / mid.len() as f64
}

fn opts_limit(secs: f64) -> DecodeOptions {
    DecodeOptions {
        max_duration_s: secs,
        ..DecodeOptions::default()
    }
}

fn bytes(b: Vec<u8>) -> Result<Audio, DecodeError> {
    decode_bytes(b, Some("wav"), &DecodeOptions::default())
}

// ---- Pcm16k --------------------------------------------------------------------

#[test]
fn pcm16k_wraps_samples() {
    let p = Pcm16k::from_samples(vec![0.25; 24_000]);
    assert_eq!(Pcm16k::RATE, 16_000);
    assert_eq!(p.samples().len(), 24_000);
    assert_eq!(p.duration(), 1.5);
    assert_eq!(p.samples(), &vec![0.25; 24_000][..]);
    assert_eq!(Pcm16k::from_samples(Vec::new()).duration(), 0.0);
}

#[test]
fn default_limits() {
    let o = DecodeOptions::default();
    assert_eq!(o.max_duration_s, 14_400.0);
    assert_eq!(o.max_channels, 8);
    assert_eq!(o.max_pcm_bytes, 2 << 30);
    assert_eq!(o.keep, Keep::All);
    // Two channels of the longest recording fit the memory bound.
    assert!(2.0 * o.max_duration_s * BYTES_PER_CHANNEL_SECOND <= o.max_pcm_bytes as f64);
}

// ---- every WAV sample format ---------------------------------------------------

#[test]
fn wav_sample_formats_decode_to_16k_f32() {
    // (format tag, bits, rate, codec name, amplitude tolerance)
    let cases = [
        (PCM, 8, 8_000, "pcm_u8", 0.02),
        (PCM, 16, 8_000, "pcm_s16le", 0.01),
        (PCM, 16, 16_000, "pcm_s16le", 0.01),
        (PCM, 16, 44_100, "pcm_s16le", 0.01),
        (PCM, 24, 48_000, "pcm_s24le", 0.01),
        (PCM, 32, 22_050, "pcm_s32le", 0.01),
        (FLOAT, 32, 11_025, "pcm_f32le", 0.01),
        (FLOAT, 32, 32_000, "pcm_f32le", 0.01),
        (FLOAT, 64, 16_000, "pcm_f64le", 0.01),
        (MULAW, 8, 8_000, "pcm_mulaw", 0.03),
        (ALAW, 8, 8_000, "pcm_alaw", 0.03),
        (PCM, 16, 24_000, "pcm_s16le", 0.01),
    ];
    for (tag, bits, rate, codec, tol) in cases {
        let what = format!("{codec} at {rate} Hz");
        let a = bytes(tone_wav(tag, bits, rate, 1.0)).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(a.codec, codec, "{what}");
        assert_eq!(a.source_rate, rate, "{what}");
        assert_eq!(a.channels.len(), 1, "{what}");
        assert!((a.duration - 1.0).abs() < 1e-3, "{what}: {} s", a.duration);
        let x = a.channels[0].samples();
        assert_eq!(x.len(), 16_000, "{what}");
        assert!((peak(x) - 0.5).abs() < tol, "{what}: peak {}", peak(x));
        assert!(
            (frequency(x) - 440.0).abs() < 3.0,
            "{what}: {} Hz",
            frequency(x)
        );
    }
}

#[test]
fn stereo_keeps_channel_order() {
    let left = tone(440.0, 8_000, 1.0, 0.5);
    let right = tone(1_000.0, 8_000, 1.0, 0.25);
    let data = encode(PCM, 16, &interleave(&[left, right]));
    let a = bytes(wav(PCM, 2, 8_000, 16, &data, None)).unwrap();
    assert_eq!(a.channels.len(), 2);
    let (l, r) = (a.channels[0].samples(), a.channels[1].samples());
    assert_eq!(l.len(), r.len());
    assert!(
        (frequency(l) - 440.0).abs() < 3.0,
        "left {} Hz",
        frequency(l)
    );
    assert!(
        (frequency(r) - 1_000.0).abs() < 3.0,
        "right {} Hz",
        frequency(r)
    );
    assert!((peak(l) - 0.5).abs() < 0.01 && (peak(r) - 0.25).abs() < 0.01);
}

/// Four channels at 8 kHz, each a tone of its own frequency (440, 1000,
/// 1500, 2000 Hz), one second.
fn four_channel_wav() -> Vec<u8> {
    let chans: Vec<Vec<f32>> = [440.0, 1_000.0, 1_500.0, 2_000.0]
        .iter()
        .map(|f| tone(*f, 8_000, 1.0, 0.2))
        .collect();
    wav(
        PCM,
        4,
        8_000,
        16,
        &encode(PCM, 16, &interleave(&chans)),
        None,
    )
}

#[test]
fn only_the_kept_channels_are_held() {
    let opts = DecodeOptions {
        keep: Keep::Only(vec![1, 3]),
        ..DecodeOptions::default()
    };
    let a = decode_bytes(four_channel_wav(), Some("wav"), &opts).unwrap();
    // Indexes keep their meaning: four slots, two of them empty.
    assert_eq!(a.channels.len(), 4);
    let lens: Vec<usize> = a.channels.iter().map(|c| c.samples().len()).collect();
    assert_eq!(lens, vec![0, 16_000, 0, 16_000]);
    assert!((frequency(a.channels[1].samples()) - 1_000.0).abs() < 3.0);
    assert!((frequency(a.channels[3].samples()) - 2_000.0).abs() < 3.0);
    assert!((a.duration - 1.0).abs() < 1e-3);
}

#[test]
fn downmix_holds_one_channel_with_every_source() {
    let opts = DecodeOptions {
        keep: Keep::Downmix,
        ..DecodeOptions::default()
    };
    let a = decode_bytes(four_channel_wav(), Some("wav"), &opts).unwrap();
    assert_eq!(a.channels.len(), 1);
    let x = a.channels[0].samples();
    assert_eq!(x.len(), 16_000);
    // The mean of four tones of amplitude 0.2: each is there at a quarter.
    let all = decode_bytes(four_channel_wav(), Some("wav"), &DecodeOptions::default()).unwrap();
    let mean: Vec<f32> = (0..16_000)
        .map(|i| all.channels.iter().map(|c| c.samples()[i]).sum::<f32>() / 4.0)
        .collect();
    let err = x
        .iter()
        .zip(&mean)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    assert!(err < 1e-3, "downmix differs from the mean by {err}");
}

#[test]
fn decoded_size_over_the_bound_is_refused() {
    // 4 channels × 1 s × 64,000 B = 256,000 B; 2 kept = 128,000 B.
    let bound = |max_pcm_bytes, keep| DecodeOptions {
        max_pcm_bytes,
        keep,
        ..DecodeOptions::default()
    };
    let e = decode_bytes(four_channel_wav(), Some("wav"), &bound(200_000, Keep::All)).unwrap_err();
    assert!(
        matches!(e, DecodeError::TooLarge { channels: 4, .. }),
        "{e:?}"
    );
    assert_eq!(e.disposition(), Disposition::Reject);
    let msg = e.to_string();
    assert!(
        msg.contains("4 channel(s)") && msg.contains("over the limit"),
        "{msg}"
    );
    // The same file fits when only two channels are held.
    let a = decode_bytes(
        four_channel_wav(),
        Some("wav"),
        &bound(200_000, Keep::Only(vec![0, 1])),
    )
    .unwrap();
    assert_eq!(a.channels[0].samples().len(), 16_000);
    // A header that hides its length is bounded while decoding.
    let mut streamed = four_channel_wav();
    streamed[40..44].copy_from_slice(&u32::MAX.to_le_bytes());
    streamed[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
    let e = decode_bytes(streamed, Some("wav"), &bound(100_000, Keep::All)).unwrap_err();
    assert!(matches!(e, DecodeError::TooLarge { .. }), "{e:?}");
}

#[test]
fn full_scale_float_is_clamped() {
    let data = encode(FLOAT, 32, &[1.0; 8_000]);
    let mut d = data.clone();
    // Out-of-range and non-finite float samples.
    d[0..4].copy_from_slice(&4.0f32.to_le_bytes());
    d[4..8].copy_from_slice(&f32::NAN.to_le_bytes());
    let a = bytes(wav(FLOAT, 1, 8_000, 32, &d, None)).unwrap();
    assert!(a.channels[0]
        .samples()
        .iter()
        .all(|v| v.is_finite() && v.abs() <= 1.0));
}

// ---- limits --------------------------------------------------------------------

#[test]
fn header_duration_over_the_limit_is_refused_unread() {
    // Two seconds, all present, limit one second: refused from the header.
    let e = decode_bytes(tone_wav(PCM, 8, 8_000, 2.0), Some("wav"), &opts_limit(1.0)).unwrap_err();
    match e {
        DecodeError::TooLong {
            duration_s,
            limit_s,
            partial: false,
            ..
        } => assert!((duration_s - 2.0).abs() < 1e-9 && limit_s == 1.0),
        other => panic!("{other}"),
    }

    // A 100-hour header on a sparse file: refused before a byte of audio is
    // read (decoding it would take minutes and gigabytes).
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hundred-hours.wav");
    let len = 100 * 3600 * 8_000u32;
    std::fs::write(&path, wav(PCM, 1, 8_000, 8, &[], Some(len))).unwrap();
    let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    f.set_len(44 + u64::from(len)).unwrap();
    let t = std::time::Instant::now();
    let e = decode_file(&path, &DecodeOptions::default()).unwrap_err();
    assert!(t.elapsed().as_secs() < 5);
    let msg = e.to_string();
    assert!(
        matches!(e, DecodeError::TooLong { partial: false, .. }),
        "{msg}"
    );
    assert!(msg.contains("hundred-hours.wav"), "{msg}");
    assert!(msg.contains("100.00 h") && msg.contains("4.00 h"), "{msg}");
}

#[test]
fn absurd_header_on_a_short_file_is_bounded_while_decoding() {
    // The header claims 100 hours; the file holds 2 s. The header is not
    // believed (the data chunk overruns the file), the limit stops
    // decoding, and without a limit in the way the 2 s are kept.
    let data = encode(PCM, 8, &tone(440.0, 8_000, 2.0, 0.5));
    let f = wav(PCM, 1, 8_000, 8, &data, Some(100 * 3600 * 8_000));
    let e = decode_bytes(f.clone(), Some("wav"), &opts_limit(1.0)).unwrap_err();
    assert!(
        matches!(e, DecodeError::TooLong { partial: true, .. }),
        "{e}"
    );
    assert!(e.to_string().contains("decoding stopped"), "{e}");
    let a = bytes(f).unwrap();
    assert!((a.duration - 2.0).abs() < 0.01, "{}", a.duration);
}

#[test]
fn streamed_wav_with_placeholder_length_decodes() {
    // Written to a pipe: ffmpeg leaves u32::MAX, sox 0x7FFFF000. At 8 kHz
    // those would read as 74 and 37 hours.
    for declared in [u32::MAX, 0x7fff_f000] {
        let data = encode(PCM, 16, &tone(440.0, 8_000, 1.5, 0.5));
        let a = bytes(wav(PCM, 1, 8_000, 16, &data, Some(declared))).unwrap();
        assert!(
            (a.duration - 1.5).abs() < 0.01,
            "{declared:#x}: {}",
            a.duration
        );
    }
}

#[test]
fn too_many_channels() {
    let data = encode(PCM, 16, &vec![0.1; 9 * 800]);
    match bytes(wav(PCM, 9, 8_000, 16, &data, None)).unwrap_err() {
        DecodeError::TooManyChannels {
            channels: 9,
            limit: 8,
            ..
        } => {}
        other => panic!("{other}"),
    }
    let stereo = wav(PCM, 2, 8_000, 16, &encode(PCM, 16, &[0.1; 1600]), None);
    let one = DecodeOptions {
        max_channels: 1,
        ..DecodeOptions::default()
    };
    let e = decode_bytes(stereo, None, &one).unwrap_err();
    assert_eq!(
        e.to_string(),
        "in-memory audio: 2 channels, more than the 1 allowed"
    );
}

#[test]
fn sample_rates_outside_8k_to_192k_are_refused() {
    for rate in [0u32, 4_000, 7_999, 192_001, 384_000] {
        let data = encode(PCM, 16, &[0.1; 800]);
        match bytes(wav(PCM, 1, rate, 16, &data, None)).unwrap_err() {
            DecodeError::UnsupportedRate { rate: r, .. } => assert_eq!(r, rate),
            other => panic!("{rate}: {other}"),
        }
    }
    for rate in [8_000u32, 192_000] {
        assert!(bytes(tone_wav(PCM, 16, rate, 0.2)).is_ok(), "{rate}");
    }
}

// ---- damaged and hostile input ----------------------------------------------

#[test]
fn empty_input() {
    assert!(matches!(bytes(Vec::new()), Err(DecodeError::Empty { .. })));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.wav");
    std::fs::write(&path, b"").unwrap();
    let e = decode_file(&path, &DecodeOptions::default()).unwrap_err();
    assert!(matches!(e, DecodeError::Empty { .. }));
    assert_eq!(
        e.to_string(),
        format!("{}: the file is empty (0 bytes)", path.display())
    );
}

#[test]
fn missing_file_and_directory_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.wav");
    let e = decode_file(&missing, &DecodeOptions::default()).unwrap_err();
    assert!(
        matches!(&e, DecodeError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
    );
    assert!(e
        .to_string()
        .starts_with(&format!("cannot read {}", missing.display())));
    assert_eq!(e.disposition(), Disposition::Reject);
    let e = decode_file(dir.path(), &DecodeOptions::default()).unwrap_err();
    assert!(e.to_string().contains("not a regular file"), "{e}");
    assert_eq!(e.disposition(), Disposition::Reject);
}

#[test]
fn header_without_audio() {
    // A data chunk of length zero: what a recorder writes before audio.
    let e = bytes(wav(PCM, 1, 8_000, 16, &[], None)).unwrap_err();
    assert!(matches!(e, DecodeError::NoSamples { .. }), "{e}");
    // A data chunk that promises a second and holds nothing.
    let e = bytes(wav(PCM, 1, 8_000, 16, &[], Some(16_000))).unwrap_err();
    assert!(matches!(e, DecodeError::Corrupt { .. }), "{e}");
    assert!(
        e.to_string()
            .contains("ends before its first complete packet"),
        "{e}"
    );
    // No data chunk at all.
    let mut f = wav(PCM, 1, 8_000, 16, &[], None);
    f.truncate(36);
    f[4..8].copy_from_slice(&28u32.to_le_bytes());
    let e = bytes(f).unwrap_err();
    assert!(matches!(e, DecodeError::NoAudioTrack { .. }), "{e}");
    // Cut inside the fmt chunk.
    let mut f = wav(PCM, 1, 8_000, 16, &[], None);
    f.truncate(30);
    let e = bytes(f).unwrap_err();
    assert!(matches!(e, DecodeError::BadHeader { .. }), "{e}");
}

#[test]
fn truncated_wav_keeps_what_was_decoded() {
    // One second promised, 0.6 s present, cut mid-sample. Up to one packet
    // (1152 frames, 72 ms at 16 kHz) at the cut is lost.
    let full = tone_wav(PCM, 16, 16_000, 1.0);
    let cut = 44 + (0.6 * 32_000.0) as usize + 1;
    let a = bytes(full[..cut].to_vec()).unwrap();
    assert!(a.duration > 0.5 && a.duration <= 0.6, "{}", a.duration);
    let x = a.channels[0].samples();
    assert!((peak(x) - 0.5).abs() < 0.01);
    assert!((frequency(x) - 440.0).abs() < 3.0);
}

#[test]
fn unsupported_wav_codecs_are_named() {
    // (format tag, bits, expected in the message)
    let cases = [
        (0x0031, 0, "gsm_ms (GSM 6.10)"),
        (0x0002, 4, "adpcm_ms"),
        (0x0011, 4, "adpcm_ima_wav"),
        (0x0055, 0, "mp3 inside WAV"),
        (PCM, 12, "12-bit integer PCM"),
        (FLOAT, 16, "16-bit float PCM"),
        (0x1234, 16, "WAV format tag 0x1234"),
    ];
    for (tag, bits, name) in cases {
        let e = bytes(wav(tag, 1, 8_000, bits, &[0; 320], None)).unwrap_err();
        assert!(
            matches!(e, DecodeError::UnsupportedCodec { .. }),
            "{tag:#x}: {e}"
        );
        assert!(e.to_string().contains(name), "{e}");
    }
}

/// xorshift64*, so the "random" bytes are the same on every run.
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut s = seed.max(1);
    (0..len)
        .map(|_| {
            s ^= s >> 12;
            s ^= s << 25;
            s ^= s >> 27;
            (s.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8
        })
        .collect()
}

#[test]
fn garbage_is_an_error_not_a_panic() {
    for (seed, len) in [
        (1, 1),
        (2, 3),
        (3, 16),
        (4, 17),
        (5, 100),
        (6, 4_096),
        (7, 65_536),
    ] {
        let e = decode_bytes(noise(seed, len), Some("wav"), &DecodeOptions::default()).unwrap_err();
        assert!(matches!(e, DecodeError::NotAudio { .. }), "{e}");
        assert!(e.to_string().starts_with("in-memory .wav audio: "), "{e}");
        assert_eq!(e.disposition(), Disposition::Reject);
    }
    // A RIFF header followed by noise.
    let mut f = b"RIFF\xff\xff\xff\x7fWAVE".to_vec();
    f.extend(noise(8, 1_000));
    let e = bytes(f).unwrap_err();
    assert!(matches!(e, DecodeError::BadHeader { .. }), "{e}");
}

#[test]
fn damaged_headers_never_panic() {
    // Every byte of a stereo µ-law and a stereo s16 header set to each of a
    // few values: whatever comes back is an error naming the source, or
    // audio of a sane shape.
    let st = interleave(&[tone(440.0, 8_000, 0.2, 0.5), tone(880.0, 8_000, 0.2, 0.5)]);
    for base in [
        wav(PCM, 2, 8_000, 16, &encode(PCM, 16, &st), None),
        wav(MULAW, 2, 8_000, 8, &encode(MULAW, 8, &st), None),
    ] {
        for at in 0..46 {
            for v in [0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff] {
                let mut f = base.clone();
                f[at] = v;
                match decode_bytes(f, Some("wav"), &DecodeOptions::default()) {
                    Ok(a) => {
                        assert!(!a.channels.is_empty() && a.channels.len() <= 8);
                        let n = a.channels[0].samples().len();
                        assert!(a.channels.iter().all(|c| c.samples().len() == n));
                        assert!(a
                            .channels
                            .iter()
                            .all(|c| c.samples().iter().all(|s| s.abs() <= 1.0)));
                    }
                    Err(e) => assert!(e.to_string().starts_with("in-memory .wav audio: "), "{e}"),
                }
            }
        }
    }
}

#[test]
fn zero_block_align_fails_as_corrupt_after_a_few_bad_packets() {
    let mut f = tone_wav(PCM, 16, 8_000, 0.5);
    f[32..34].copy_from_slice(&0u16.to_le_bytes());
    let e = bytes(f).unwrap_err();
    assert!(
        matches!(
            e,
            DecodeError::Corrupt { .. } | DecodeError::BadHeader { .. }
        ),
        "{e}"
    );
}

#[test]
fn known_symphonia_panics_become_errors() {
    // symphonia issue #510: a 38-byte MPEG frame with a bad Xing header
    // divides by zero in SampleBuffer::new.
    let xing: &[u8] = &[
        0xff, 0xff, 0x08, 0x31, 0x4c, 0x08, 0x31, 0x4c, 0xff, 0xf2, 0x14, 0xff, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x58, 0x69, 0x6e, 0x67, 0x49, 0xae, 0x01, 0x00, 0x00,
        0x00, 0xe8, 0xff, 0xf2, 0x14, 0xff, 0x00, 0x00,
    ];
    assert!(decode_bytes(xing.to_vec(), Some("mp3"), &DecodeOptions::default()).is_err());
    // symphonia issue #485: an ID3v2.4 extended header whose restrictions
    // byte reaches unreachable!() during the probe.
    let mut id3 = b"ID3\x04\x00\x40\x00\x00\x00\x20".to_vec();
    id3.extend([0x00, 0x00, 0x00, 0x06, 0x01, 0x10, 0x01, 0x40]);
    id3.extend([0u8; 40]);
    let e = decode_bytes(id3, Some("mp3"), &DecodeOptions::default()).unwrap_err();
    assert!(matches!(e, DecodeError::Corrupt { .. }), "{e}");
    assert!(
        e.to_string()
            .contains("internal error: entered unreachable code"),
        "{e}"
    );
}

#[test]
fn a_panicking_decoder_becomes_a_corrupt_error() {
    let e = run(
        "x.wav",
        &[],
        1,
        &DecodeOptions::default(),
        || -> Result<Demuxer, Fault> { panic!("boom") },
    )
    .unwrap_err();
    assert!(matches!(e, DecodeError::Corrupt { .. }));
    assert_eq!(
        e.to_string(),
        "x.wav: corrupt or truncated audio after 0.00 s: malformed data made the decoder fail (boom)"
    );
}

// ---- errors ------------------------------------------------------------------

fn io(kind: std::io::ErrorKind) -> DecodeError {
    DecodeError::Io {
        path: "a.wav".into(),
        source: std::io::Error::new(kind, "x"),
    }
}

#[test]
fn only_transient_reads_are_retried() {
    use std::io::ErrorKind::*;
    let p = || "a.wav".to_string();
    let cases = [
        (io(Interrupted), Disposition::Retry),
        (io(WouldBlock), Disposition::Retry),
        (io(TimedOut), Disposition::Retry),
        (io(NotFound), Disposition::Reject),
        (io(PermissionDenied), Disposition::Reject),
        (io(UnexpectedEof), Disposition::Reject),
        (io(InvalidData), Disposition::Reject),
        (DecodeError::Empty { path: p() }, Disposition::Reject),
        (DecodeError::NotAudio { path: p() }, Disposition::Reject),
        (
            DecodeError::BadHeader {
                path: p(),
                detail: "x".into(),
            },
            Disposition::Reject,
        ),
        (
            DecodeError::UnsupportedCodec {
                path: p(),
                codec: "aac".into(),
            },
            Disposition::Reject,
        ),
        (DecodeError::NoAudioTrack { path: p() }, Disposition::Reject),
        (DecodeError::NoSamples { path: p() }, Disposition::Reject),
        (
            DecodeError::Corrupt {
                path: p(),
                at_s: 1.0,
                detail: "x".into(),
            },
            Disposition::Reject,
        ),
        (
            DecodeError::TooLong {
                path: p(),
                duration_s: 5.0,
                limit_s: 1.0,
                partial: false,
            },
            Disposition::Reject,
        ),
        (
            DecodeError::TooManyChannels {
                path: p(),
                channels: 9,
                limit: 8,
            },
            Disposition::Reject,
        ),
        (
            DecodeError::UnsupportedRate {
                path: p(),
                rate: 4_000,
            },
            Disposition::Reject,
        ),
    ];
    for (e, want) in cases {
        assert_eq!(e.disposition(), want, "{e}");
        assert!(e.to_string().contains("a.wav"), "{e}");
    }
}

#[test]
fn messages_say_what_is_wrong() {
    let p = || "calls/a.wav".to_string();
    let cases = [
        (DecodeError::NotAudio { path: p() }, "calls/a.wav: not an audio file (no WAV, MP3, FLAC or Ogg container found)"),
        (
            DecodeError::UnsupportedCodec { path: p(), codec: "opus".into() },
            "calls/a.wav: unsupported codec opus (this build decodes PCM, µ-law and A-law WAV, MP3, FLAC and Ogg Vorbis)",
        ),
        (
            DecodeError::Corrupt { path: p(), at_s: 12.5, detail: "11 packets could not be decoded".into() },
            "calls/a.wav: corrupt or truncated audio after 12.50 s: 11 packets could not be decoded",
        ),
        (
            DecodeError::TooLong { path: p(), duration_s: 360_000.0, limit_s: 14_400.0, partial: false },
            "calls/a.wav: the recording is 100.00 h long (per its header), over the limit of 4.00 h",
        ),
        (
            DecodeError::TooLong { path: p(), duration_s: 90.0, limit_s: 90.0, partial: true },
            "calls/a.wav: the recording runs past the limit of 90.00 s; decoding stopped there",
        ),
        (
            DecodeError::UnsupportedRate { path: p(), rate: 4_000 },
            "calls/a.wav: unsupported sample rate 4000 Hz (accepted: 8000–192000 Hz)",
        ),
        (DecodeError::NoSamples { path: p() }, "calls/a.wav: the recording has no audio samples (zero length)"),
    ];
    for (e, want) in cases {
        assert_eq!(e.to_string(), want);
    }
}
