//! Decoding real encoders' output: sox writes a 1.5 s tone in every
//! container, codec, sample format, rate and channel layout callqa accepts
//! (WAV integer, float, µ-law and A-law PCM; MP3; FLAC; Ogg Vorbis), and
//! each must come back as 16 kHz f32 with the right length, level and
//! pitch, channels in order. Then damaged files: noise named `.wav`, and
//! recordings cut short. sox (with libsox-fmt-mp3 for MP3) comes from
//! `scripts/setup.sh --test`; without it these tests fail, never skip.

use std::path::{Path, PathBuf};
use std::process::Command;

use callqa::decode::{decode_file, Audio, DecodeError, DecodeOptions, Pcm16k};

const SETUP: &str = "run scripts/setup.sh --test (it installs sox and libsox-fmt-mp3)";

/// Runs sox; a missing sox (or a sox that cannot write the format) fails
/// the test with a message saying how to install it.
fn sox(args: &[&str]) {
    let out = match Command::new("sox").args(args).output() {
        Ok(o) => o,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            panic!("sox is not on PATH: {SETUP}")
        }
        Err(e) => panic!("cannot run sox: {e}"),
    };
    assert!(
        out.status.success(),
        "sox {} failed ({SETUP}):\n{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A 1.5 s tone at half scale: 440 Hz, and 880 Hz on a second channel.
fn synth(path: &Path, rate: u32, channels: u32, format: &[&str]) {
    let rate = rate.to_string();
    let channels_s = channels.to_string();
    let p = path.to_string_lossy();
    let mut args = vec!["-n", "-r", &rate, "-c", &channels_s];
    args.extend(format);
    args.extend([&*p, "synth", "1.5", "sine", "440"]);
    if channels == 2 {
        args.extend(["sine", "880"]);
    }
    args.extend(["vol", "0.5"]);
    sox(&args);
}

fn peak(x: &[f32]) -> f32 {
    x.iter().fold(0.0, |m, v| m.max(v.abs()))
}

/// Frequency from the spacing of upward zero crossings (interpolated
/// between samples; re-armed only after the signal drops below -0.05, so
/// codec noise near zero does not count). Spacings far from the median are
/// dropped, so silence an encoder adds at the start, or a damaged stretch,
/// does not skew the result.
fn frequency(x: &[f32]) -> f64 {
    let mut times = Vec::new();
    let mut armed = false;
    for (i, w) in x.windows(2).enumerate() {
        let (a, b) = (f64::from(w[0]), f64::from(w[1]));
        if a < -0.05 {
            armed = true;
        }
        if armed && a <= 0.0 && b > 0.0 {
            times.push(i as f64 + a / (a - b));
            armed = false;
        }
    }
    let mut gaps: Vec<f64> = times.windows(2).map(|t| t[1] - t[0]).collect();
    if gaps.is_empty() {
        return 0.0;
    }
    gaps.sort_by(f64::total_cmp);
    let median = gaps[gaps.len() / 2];
    let near: Vec<f64> = gaps
        .into_iter()
        .filter(|g| (g / median - 1.0).abs() < 0.25)
        .collect();
    f64::from(Pcm16k::RATE) * near.len() as f64 / near.iter().sum::<f64>()
}

/// How much longer than the tone a decoded file may be. sox writes MP3
/// without a LAME/Xing tag, so nothing tells the decoder to trim the
/// encoder's delay (1105 samples) and the last frame's padding (under 1152
/// samples, or 576 below 32 kHz); every other codec is exact.
fn slack(codec: &str, rate: u32) -> f64 {
    if codec == "mp3" {
        let frame = if rate >= 32_000 { 1_152.0 } else { 576.0 };
        (1_105.0 + frame) / f64::from(rate)
    } else {
        0.0
    }
}

/// What is wrong with `a` for a tone made by [`synth`], if anything.
fn check(a: &Audio, rate: u32, channels: usize, codec: &str, level_tol: f32) -> Vec<String> {
    let mut bad = Vec::new();
    if a.codec != codec {
        bad.push(format!("codec {} (expected {codec})", a.codec));
    }
    if a.source_rate != rate {
        bad.push(format!("source rate {}", a.source_rate));
    }
    if a.channels.len() != channels {
        bad.push(format!("{} channels", a.channels.len()));
        return bad;
    }
    if a.duration < 1.45 || a.duration > 1.55 + slack(codec, rate) {
        bad.push(format!("duration {:.3} s", a.duration));
    }
    for (c, (pcm, want_hz)) in a.channels.iter().zip([440.0, 880.0]).enumerate() {
        if (pcm.duration() - a.duration).abs() > 0.01 {
            bad.push(format!(
                "channel {c} lasts {:.3} s at 16 kHz",
                pcm.duration()
            ));
        }
        let x = pcm.samples();
        if x.len() < 1_600 {
            bad.push(format!("channel {c} has {} samples", x.len()));
            continue;
        }
        if (peak(x) - 0.5).abs() > level_tol {
            bad.push(format!("channel {c} peak {:.3}", peak(x)));
        }
        let hz = frequency(x);
        if (hz - want_hz).abs() > 5.0 {
            bad.push(format!("channel {c} at {hz:.1} Hz (expected {want_hz})"));
        }
    }
    bad
}

/// File name, sox output options, rate, channels, codec, level tolerance.
type Case = (
    &'static str,
    &'static [&'static str],
    u32,
    u32,
    &'static str,
    f32,
);

#[test]
fn every_supported_format_decodes_to_16k() {
    let cases: &[Case] = &[
        (
            "u8.wav",
            &["-e", "unsigned", "-b", "8"],
            8_000,
            1,
            "pcm_u8",
            0.03,
        ),
        (
            "s16-8k.wav",
            &["-e", "signed", "-b", "16"],
            8_000,
            1,
            "pcm_s16le",
            0.02,
        ),
        (
            "s16-11k.wav",
            &["-e", "signed", "-b", "16"],
            11_025,
            1,
            "pcm_s16le",
            0.02,
        ),
        (
            "s16-16k-stereo.wav",
            &["-e", "signed", "-b", "16"],
            16_000,
            2,
            "pcm_s16le",
            0.02,
        ),
        (
            "s16-22k.wav",
            &["-e", "signed", "-b", "16"],
            22_050,
            1,
            "pcm_s16le",
            0.02,
        ),
        (
            "s24-24k.wav",
            &["-e", "signed", "-b", "24"],
            24_000,
            1,
            "pcm_s24le",
            0.02,
        ),
        (
            "s24-48k-stereo.wav",
            &["-e", "signed", "-b", "24"],
            48_000,
            2,
            "pcm_s24le",
            0.02,
        ),
        (
            "s32-32k.wav",
            &["-e", "signed", "-b", "32"],
            32_000,
            1,
            "pcm_s32le",
            0.02,
        ),
        (
            "f32-44k-stereo.wav",
            &["-e", "floating-point", "-b", "32"],
            44_100,
            2,
            "pcm_f32le",
            0.02,
        ),
        (
            "f32-48k.wav",
            &["-e", "floating-point", "-b", "32"],
            48_000,
            1,
            "pcm_f32le",
            0.02,
        ),
        (
            "ulaw-8k.wav",
            &["-e", "u-law", "-b", "8"],
            8_000,
            1,
            "pcm_mulaw",
            0.08,
        ),
        (
            "ulaw-8k-stereo.wav",
            &["-e", "u-law", "-b", "8"],
            8_000,
            2,
            "pcm_mulaw",
            0.08,
        ),
        (
            "alaw-8k.wav",
            &["-e", "a-law", "-b", "8"],
            8_000,
            1,
            "pcm_alaw",
            0.08,
        ),
        (
            "alaw-16k.wav",
            &["-e", "a-law", "-b", "8"],
            16_000,
            1,
            "pcm_alaw",
            0.08,
        ),
        ("8k.mp3", &[], 8_000, 1, "mp3", 0.08),
        ("16k.mp3", &[], 16_000, 1, "mp3", 0.08),
        ("22k-stereo.mp3", &[], 22_050, 2, "mp3", 0.08),
        ("44k-stereo.mp3", &[], 44_100, 2, "mp3", 0.08),
        ("48k.mp3", &[], 48_000, 1, "mp3", 0.08),
        ("8k.flac", &["-b", "16"], 8_000, 1, "flac", 0.02),
        ("16k.flac", &["-b", "16"], 16_000, 1, "flac", 0.02),
        ("44k-stereo.flac", &["-b", "16"], 44_100, 2, "flac", 0.02),
        ("48k-24bit.flac", &["-b", "24"], 48_000, 1, "flac", 0.02),
        ("8k.ogg", &[], 8_000, 1, "vorbis", 0.08),
        ("16k.ogg", &[], 16_000, 1, "vorbis", 0.08),
        ("44k-stereo.ogg", &[], 44_100, 2, "vorbis", 0.08),
        ("48k.ogg", &[], 48_000, 1, "vorbis", 0.08),
    ];
    let dir = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for &(name, format, rate, channels, codec, tol) in cases {
        let path = dir.path().join(name);
        synth(&path, rate, channels, format);
        match decode_file(&path, &DecodeOptions::default()) {
            Ok(a) => {
                for problem in check(&a, rate, channels as usize, codec, tol) {
                    failures.push(format!("{name}: {problem}"));
                }
            }
            Err(e) => failures.push(format!("{name}: {e}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn tone_file(dir: &Path, name: &str, rate: u32, channels: u32) -> PathBuf {
    let path = dir.join(name);
    synth(&path, rate, channels, &[]);
    path
}

#[test]
fn noise_named_wav_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("call-0042.wav");
    // xorshift64*: the same bytes on every run.
    let mut s = 0x9e37_79b9_7f4a_7c15u64;
    let noise: Vec<u8> = (0..48_000)
        .map(|_| {
            s ^= s >> 12;
            s ^= s << 25;
            s ^= s >> 27;
            (s.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8
        })
        .collect();
    std::fs::write(&path, noise).unwrap();
    let e = decode_file(&path, &DecodeOptions::default()).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    assert!(matches!(e, DecodeError::NotAudio { .. }), "{msg}");
}

#[test]
fn recordings_cut_short_keep_what_was_decoded() {
    // The first 40 % of each file: what a recorder leaves when a call is
    // cut. Either the decoded part comes back (at least 0.3 s of the 1.5 s,
    // still the same tone) or a clear error naming the file; never a panic.
    let dir = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for (name, rate) in [
        ("cut.mp3", 44_100),
        ("cut-8k.mp3", 8_000),
        ("cut.flac", 16_000),
        ("cut.ogg", 22_050),
        ("cut.wav", 8_000),
    ] {
        let full = tone_file(dir.path(), &format!("full-{name}"), rate, 1);
        let bytes = std::fs::read(&full).unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, &bytes[..bytes.len() * 2 / 5]).unwrap();
        match decode_file(&path, &DecodeOptions::default()) {
            Ok(a) => {
                let x = a.channels[0].samples();
                if a.duration < 0.3 || a.duration > 0.75 {
                    failures.push(format!("{name}: {:.3} s decoded", a.duration));
                } else if (frequency(x) - 440.0).abs() > 5.0 {
                    failures.push(format!("{name}: {:.1} Hz", frequency(x)));
                }
            }
            Err(e) => {
                if !e.to_string().contains(&path.display().to_string()) {
                    failures.push(format!("{name}: error does not name the file: {e}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn damage_in_the_middle_of_an_mp3_is_skipped() {
    // 1 KiB of zeros in the middle of an MP3: the frames it hits are
    // skipped and the rest of the call survives.
    let dir = tempfile::tempdir().unwrap();
    let full = tone_file(dir.path(), "full.mp3", 16_000, 1);
    let mut bytes = std::fs::read(&full).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid..mid + 1024].fill(0);
    let path = dir.path().join("damaged.mp3");
    std::fs::write(&path, &bytes).unwrap();
    let a = decode_file(&path, &DecodeOptions::default()).unwrap();
    assert!(a.duration > 1.0, "{:.3} s", a.duration);
    assert!((frequency(a.channels[0].samples()) - 440.0).abs() < 5.0);
}

#[test]
fn container_is_found_from_content_not_extension() {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("tone.wav");
    synth(&wav, 8_000, 1, &["-e", "signed", "-b", "16"]);
    let named_mp3 = dir.path().join("actually-a-wav.mp3");
    std::fs::copy(&wav, &named_mp3).unwrap();
    let a = decode_file(&named_mp3, &DecodeOptions::default()).unwrap();
    assert_eq!(a.codec, "pcm_s16le");
    assert!((a.duration - 1.5).abs() < 0.01);
}

#[test]
fn limits_apply_to_real_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = tone_file(dir.path(), "tone.flac", 16_000, 2);
    let short = DecodeOptions {
        max_duration_s: 1.0,
        ..DecodeOptions::default()
    };
    let e = decode_file(&path, &short).unwrap_err();
    assert!(matches!(e, DecodeError::TooLong { .. }), "{e}");
    let mono = DecodeOptions {
        max_channels: 1,
        ..DecodeOptions::default()
    };
    let e = decode_file(&path, &mono).unwrap_err();
    assert!(
        matches!(e, DecodeError::TooManyChannels { channels: 2, .. }),
        "{e}"
    );
}
