//! Decode: a recording (WAV, MP3, FLAC, Ogg Vorbis) → 16 kHz mono f32 PCM,
//! one [`Pcm16k`] per channel of the file, in the file's channel order
//! (telephony systems record agent and customer on separate channels; which
//! is which is the pipeline's business, not this stage's).
//!
//! Symphonia (in [`demux`]) finds the container and decodes packets; every
//! sample format becomes f32 in [-1, 1]; [`resample`] brings each channel to
//! 16 kHz as the packets arrive, so memory holds the 16 kHz output and not
//! the source. Limits ([`DecodeOptions`]) are checked against the header
//! before decoding and again while decoding. A file cut short keeps what was
//! decoded; a few bad packets are skipped; anything else is a
//! [`DecodeError`] naming the file and the problem. Symphonia 0.5 is known
//! to panic on some crafted files, so each decode runs under
//! `catch_unwind` and a panic becomes [`DecodeError::Corrupt`].

mod demux;
mod resample;
mod riff;
#[cfg(test)]
mod tests;

use std::cell::Cell;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use crate::error::{Classify, Disposition};
use demux::{Demuxer, Fault};
use resample::Resampler;

/// Lowest and highest sample rates accepted, in Hz.
pub const MIN_RATE: u32 = 8_000;
pub const MAX_RATE: u32 = 192_000;
/// Undecodable packets skipped before the file is called corrupt.
const MAX_BAD_PACKETS: usize = 10;
/// Bytes read from the start of a file to look at a WAV header.
const HEAD_LEN: u64 = 64 * 1024;

/// 16 kHz mono f32 samples in [-1, 1]: the only input the transcriber accepts.
#[derive(Debug, Clone, PartialEq)]
pub struct Pcm16k(Vec<f32>);

impl Pcm16k {
    pub const RATE: u32 = 16_000;

    /// Wraps samples the caller guarantees are 16 kHz mono (tests, and
    /// audio already decoded elsewhere).
    pub fn from_samples(v: Vec<f32>) -> Self {
        Pcm16k(v)
    }

    pub fn samples(&self) -> &[f32] {
        &self.0
    }

    /// The samples, without a copy.
    pub fn into_samples(self) -> Vec<f32> {
        self.0
    }

    /// Length in seconds.
    pub fn duration(&self) -> f64 {
        self.0.len() as f64 / f64::from(Self::RATE)
    }
}

/// A decoded recording.
#[derive(Debug, Clone)]
pub struct Audio {
    /// One per channel of the file, in the file's order; the held ones (see
    /// [`Keep`]) all the same length, the others empty. One channel when
    /// downmixed.
    pub channels: Vec<Pcm16k>,
    /// The file's sample rate in Hz.
    pub source_rate: u32,
    /// Short codec name: `pcm_s16le`, `pcm_mulaw`, `pcm_alaw`, `mp3`,
    /// `flac`, `vorbis`…
    pub codec: String,
    /// Seconds of audio decoded.
    pub duration: f64,
}

/// Which of the file's channels decoding keeps. Channels not kept are
/// demuxed (the container interleaves them) but neither resampled nor held:
/// memory grows with the kept channels only.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Keep {
    /// Every channel, in the file's order.
    #[default]
    All,
    /// These channels (indexes into the file's channels); the others come
    /// back as empty [`Pcm16k`]s, so indexes keep their meaning.
    Only(Vec<usize>),
    /// One channel: the mean of all the file's channels.
    Downmix,
}

impl Keep {
    /// How many channels of a `n`-channel file are held.
    fn held(&self, n: usize) -> usize {
        match self {
            Keep::All => n,
            Keep::Only(list) => (0..n).filter(|c| list.contains(c)).count(),
            Keep::Downmix => 1.min(n),
        }
    }
}

/// Bytes one held channel takes per second of audio (16 kHz f32).
pub const BYTES_PER_CHANNEL_SECOND: f64 = Pcm16k::RATE as f64 * 4.0;

/// Limits on what a recording may be.
#[derive(Debug, Clone)]
pub struct DecodeOptions {
    /// Longest recording accepted, in seconds (default four hours).
    pub max_duration_s: f64,
    /// Most channels accepted (default 8).
    pub max_channels: usize,
    /// Most bytes of decoded audio held for one recording: held channels ×
    /// seconds × [`BYTES_PER_CHANNEL_SECOND`] (default 2 GiB: two channels
    /// of the four-hour limit, 1.84 GB, fit). Checked against the header before decoding and
    /// again as samples arrive.
    pub max_pcm_bytes: u64,
    /// Which channels to hold (default all).
    pub keep: Keep,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions {
            max_duration_s: 4.0 * 3600.0,
            max_channels: 8,
            max_pcm_bytes: 2 << 30,
            keep: Keep::All,
        }
    }
}

/// Why a recording could not be decoded. `path` names the file (or
/// "in-memory audio" for [`decode_bytes`]).
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: the file is empty (0 bytes)")]
    Empty { path: String },
    #[error("{path}: not an audio file (no WAV, MP3, FLAC or Ogg container found)")]
    NotAudio { path: String },
    #[error("{path}: corrupt header: {detail}")]
    BadHeader { path: String, detail: String },
    #[error(
        "{path}: unsupported codec {codec} (this build decodes PCM, µ-law and A-law WAV, \
         MP3, FLAC and Ogg Vorbis)"
    )]
    UnsupportedCodec { path: String, codec: String },
    #[error("{path}: the file has no audio track")]
    NoAudioTrack { path: String },
    #[error("{path}: the recording has no audio samples (zero length)")]
    NoSamples { path: String },
    #[error("{path}: corrupt or truncated audio after {at_s:.2} s: {detail}")]
    Corrupt {
        path: String,
        at_s: f64,
        detail: String,
    },
    #[error("{path}: {}", too_long(*.duration_s, *.limit_s, *.partial))]
    TooLong {
        path: String,
        /// The header's duration or, when `partial` (the header did not
        /// say), how far decoding got before it stopped.
        duration_s: f64,
        limit_s: f64,
        partial: bool,
    },
    #[error("{path}: {channels} channels, more than the {limit} allowed")]
    TooManyChannels {
        path: String,
        channels: usize,
        limit: usize,
    },
    #[error("{path}: unsupported sample rate {rate} Hz (accepted: {MIN_RATE}–{MAX_RATE} Hz)")]
    UnsupportedRate { path: String, rate: u32 },
    #[error(
        "{path}: {channels} channel(s) of {} would take {} MiB decoded, over the limit of {} MiB \
         (decoded audio is held at 16 kHz, 4 bytes a sample; map fewer channels or split the recording)",
        human_secs(*.duration_s), .bytes / (1 << 20), .limit / (1 << 20)
    )]
    TooLarge {
        path: String,
        channels: usize,
        duration_s: f64,
        bytes: u64,
        limit: u64,
    },
}

impl Classify for DecodeError {
    fn disposition(&self) -> Disposition {
        use std::io::ErrorKind::{Interrupted, TimedOut, WouldBlock};
        match self {
            // Only a read that might work next time is worth retrying; a
            // missing or unreadable file, and everything about the file's
            // content, stays bad.
            DecodeError::Io { source, .. }
                if matches!(source.kind(), Interrupted | WouldBlock | TimedOut) =>
            {
                Disposition::Retry
            }
            _ => Disposition::Reject,
        }
    }
}

/// Decodes the recording at `path`.
pub fn decode_file(path: &Path, opts: &DecodeOptions) -> Result<Audio, DecodeError> {
    let name = path.display().to_string();
    let io = |source| DecodeError::Io {
        path: name.clone(),
        source,
    };
    // stat before open: opening a named pipe blocks until a writer comes.
    let before = std::fs::metadata(path).map_err(io)?;
    if !before.is_file() {
        return Err(io(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file",
        )));
    }
    let mut file = File::open(path).map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    if !meta.is_file() || !same_file(&before, &meta) {
        return Err(io(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file",
        )));
    }
    if meta.len() == 0 {
        return Err(DecodeError::Empty { path: name });
    }
    let mut head = Vec::new();
    (&mut file)
        .take(HEAD_LEN)
        .read_to_end(&mut head)
        .map_err(io)?;
    file.seek(SeekFrom::Start(0)).map_err(io)?;
    run(&name, &head, meta.len(), opts, || demux::open_file(file))
}

/// Whether two `stat`s are of the same file (it was not swapped between
/// the check and the open).
fn same_file(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        a.dev() == b.dev() && a.ino() == b.ino()
    }
    #[cfg(not(unix))]
    {
        let _ = (a, b);
        true
    }
}

/// Decodes a recording held in memory; `hint_extension` (`"wav"`, `"mp3"`…)
/// only labels errors, since the container is found from the bytes.
pub fn decode_bytes(
    bytes: Vec<u8>,
    hint_extension: Option<&str>,
    opts: &DecodeOptions,
) -> Result<Audio, DecodeError> {
    let name = match hint_extension {
        Some(ext) => format!("in-memory .{ext} audio"),
        None => "in-memory audio".to_string(),
    };
    if bytes.is_empty() {
        return Err(DecodeError::Empty { path: name });
    }
    let head_len = bytes.len().min(HEAD_LEN as usize);
    let head = bytes.get(..head_len).unwrap_or(&[]).to_vec();
    let total = bytes.len() as u64;
    run(&name, &head, total, opts, move || demux::open_bytes(bytes))
}

/// Checks a WAV header, then decodes under a panic guard. `head` is the
/// start of the input, `total_len` its size in bytes.
fn run(
    name: &str,
    head: &[u8],
    total_len: u64,
    opts: &DecodeOptions,
    open: impl FnOnce() -> Result<Demuxer, Fault>,
) -> Result<Audio, DecodeError> {
    let wav = riff::sniff(head);
    let trust_header_len = !wav.as_ref().is_some_and(|w| w.overstates_length(total_len));
    if let Some(fmt) = wav.and_then(|w| w.fmt) {
        if let Some(codec) = fmt.unsupported_codec() {
            return Err(DecodeError::UnsupportedCodec {
                path: name.to_string(),
                codec,
            });
        }
        check_rate(name, fmt.rate)?;
        if fmt.channels == 0 {
            return Err(DecodeError::BadHeader {
                path: name.to_string(),
                detail: "the WAV header declares 0 channels".into(),
            });
        }
        check_channels(name, usize::from(fmt.channels), opts)?;
    }
    let progress = Cell::new(0.0);
    let signed = has_signature(head);
    let guarded =
        AssertUnwindSafe(|| decode(name, opts, signed, trust_header_len, &progress, open));
    match catch_unwind(guarded) {
        Ok(result) => result,
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown".into());
            tracing::error!(path = %name, panic = %what, "audio decoder panicked on malformed input");
            Err(DecodeError::Corrupt {
                path: name.to_string(),
                at_s: progress.get(),
                detail: format!("malformed data made the decoder fail ({what})"),
            })
        }
    }
}

/// `signed`: whether the input starts with a container's signature.
/// `trust_header_len`: whether the header's length may be believed (not a
/// WAV whose data chunk claims more than the file holds).
fn decode(
    name: &str,
    opts: &DecodeOptions,
    signed: bool,
    trust_header_len: bool,
    progress: &Cell<f64>,
    open: impl FnOnce() -> Result<Demuxer, Fault>,
) -> Result<Audio, DecodeError> {
    let path = || name.to_string();
    let mut dm = open().map_err(|f| match f {
        // The probe scans up to 1 MB for a marker, and two bytes of noise
        // pass for an MP3 frame sync: a file that does not start like audio
        // and fails to open is not audio, not a damaged header.
        Fault::Io(_) => fault_error(name, f, 0.0),
        _ if !signed => DecodeError::NotAudio { path: path() },
        _ => fault_error(name, f, 0.0),
    })?;
    let info = dm.info().clone();

    // The header's word first, so an absurd length is refused unread.
    if let Some(rate) = info.sample_rate {
        check_rate(name, rate)?;
    }
    if let Some(ch) = info.channels {
        check_channels(name, ch, opts)?;
    }
    let header_s = match (info.n_frames, info.sample_rate) {
        (Some(n), Some(rate)) if rate > 0 && trust_header_len => Some(n as f64 / f64::from(rate)),
        _ => None,
    };
    if let Some(d) = header_s {
        if d > opts.max_duration_s {
            return Err(DecodeError::TooLong {
                path: path(),
                duration_s: d,
                limit_s: opts.max_duration_s,
                partial: false,
            });
        }
        if let Some(ch) = info.channels {
            check_size(name, opts, opts.keep.held(ch), d)?;
        }
    }

    let mut out: Option<Channels> = None;
    let mut frames: u64 = 0;
    let mut bad = 0usize;
    let mut last_bad = String::new();
    loop {
        let at_s = out
            .as_ref()
            .map_or(0.0, |o| frames as f64 / f64::from(o.rate));
        progress.set(at_s);
        let block = match dm.next_block() {
            Ok(Some(b)) => b,
            Ok(None) => break,
            Err(Fault::BadPacket(msg)) => {
                bad += 1;
                tracing::debug!(path = %name, at_s, error = %msg, "skipped an undecodable packet");
                if bad > MAX_BAD_PACKETS {
                    return Err(DecodeError::Corrupt {
                        path: path(),
                        at_s,
                        detail: format!("{bad} packets could not be decoded, the last: {msg}"),
                    });
                }
                last_bad = msg;
                continue;
            }
            Err(Fault::Unsupported(what)) => {
                return Err(DecodeError::UnsupportedCodec {
                    path: path(),
                    codec: format!("{} ({what})", info.codec),
                })
            }
            Err(f) => return Err(fault_error(name, f, at_s)),
        };
        let o = match &mut out {
            Some(o) => o,
            None => {
                check_rate(name, block.rate)?;
                check_channels(name, block.channels, opts)?;
                out.insert(Channels::new(block.rate, block.channels, &opts.keep))
            }
        };
        if block.rate != o.rate || block.channels != o.file_channels {
            return Err(DecodeError::Corrupt {
                path: path(),
                at_s,
                detail: format!(
                    "the format changes mid-stream ({} Hz, {} channels, then {} Hz, {} channels)",
                    o.rate, o.file_channels, block.rate, block.channels
                ),
            });
        }
        o.push(&block);
        frames += block.frames as u64;
        let decoded_s = frames as f64 / f64::from(o.rate);
        if decoded_s > opts.max_duration_s {
            return Err(DecodeError::TooLong {
                path: path(),
                duration_s: opts.max_duration_s,
                limit_s: opts.max_duration_s,
                partial: true,
            });
        }
        check_size(name, opts, o.held(), decoded_s)?;
    }

    let Some(out) = out.filter(|_| frames > 0) else {
        return Err(if bad > 0 {
            DecodeError::Corrupt {
                path: path(),
                at_s: 0.0,
                detail: format!("no packet could be decoded ({last_bad})"),
            }
        } else if info.n_frames.is_some_and(|n| n > 0) {
            DecodeError::Corrupt {
                path: path(),
                at_s: 0.0,
                detail: "the file ends before its first complete packet".into(),
            }
        } else {
            DecodeError::NoSamples { path: path() }
        });
    };
    let duration = frames as f64 / f64::from(out.rate);
    if let Some(h) = header_s {
        // Encoders' duration estimates are not exact; a real cut is more.
        if duration + 0.1 < h * 0.99 {
            tracing::warn!(path = %name, decoded_s = duration, header_s = h,
                "recording is shorter than its header says (cut short?); keeping what was decoded");
        }
    }
    if bad > 0 {
        tracing::warn!(path = %name, skipped_packets = bad, last_error = %last_bad,
            "skipped undecodable packets");
    }
    Ok(Audio {
        source_rate: out.rate,
        channels: out.finish(),
        codec: info.codec,
        duration,
    })
}

/// One resampler per held channel: per kept channel of the file (the others
/// `None`), or a single one fed the mean of all channels.
struct Channels {
    rate: u32,
    file_channels: usize,
    resamplers: Vec<Option<Resampler>>,
    /// Mean of the channels (downmix) before resampling; reused per block.
    mix: Option<Vec<f32>>,
}

impl Channels {
    fn new(rate: u32, n: usize, keep: &Keep) -> Self {
        let new = || Some(Resampler::new(rate, Pcm16k::RATE));
        let (resamplers, mix) = match keep {
            Keep::All => ((0..n).map(|_| new()).collect(), None),
            Keep::Only(list) => (
                (0..n)
                    .map(|c| if list.contains(&c) { new() } else { None })
                    .collect(),
                None,
            ),
            Keep::Downmix => (vec![new()], Some(Vec::new())),
        };
        Channels {
            rate,
            file_channels: n,
            resamplers,
            mix,
        }
    }

    fn held(&self) -> usize {
        self.resamplers.iter().flatten().count()
    }

    fn push(&mut self, block: &demux::Block) {
        if let Some(mix) = &mut self.mix {
            mix.clear();
            mix.resize(block.frames, 0.0);
            let k = 1.0 / block.channels.max(1) as f32;
            for c in 0..block.channels {
                for (m, s) in mix.iter_mut().zip(block.channel(c)) {
                    *m += s * k;
                }
            }
            if let Some(Some(r)) = self.resamplers.first_mut() {
                r.push(mix);
            }
            return;
        }
        for (c, r) in self.resamplers.iter_mut().enumerate() {
            if let Some(r) = r {
                r.push(block.channel(c));
            }
        }
    }

    fn finish(self) -> Vec<Pcm16k> {
        self.resamplers
            .into_iter()
            .map(|r| {
                let mut v = r.map(Resampler::finish).unwrap_or_default();
                // Float sources may exceed full scale, and the filter rings
                // a little on full-scale square edges.
                v.iter_mut().for_each(|s| *s = s.clamp(-1.0, 1.0));
                Pcm16k(v)
            })
            .collect()
    }
}

/// Refuses a recording whose held channels would exceed the memory bound.
fn check_size(
    name: &str,
    opts: &DecodeOptions,
    channels: usize,
    duration_s: f64,
) -> Result<(), DecodeError> {
    let bytes = (channels as f64 * duration_s * BYTES_PER_CHANNEL_SECOND) as u64;
    if bytes > opts.max_pcm_bytes {
        return Err(DecodeError::TooLarge {
            path: name.to_string(),
            channels,
            duration_s,
            bytes,
            limit: opts.max_pcm_bytes,
        });
    }
    Ok(())
}

/// Whether `head` starts with a WAV, FLAC, Ogg or ID3 signature, or an
/// MPEG audio frame sync.
fn has_signature(head: &[u8]) -> bool {
    let starts = |sig: &[u8]| head.starts_with(sig);
    starts(b"RIFF")
        || starts(b"fLaC")
        || starts(b"OggS")
        || starts(b"ID3")
        || matches!(head, [0xff, b, ..] if b & 0xe0 == 0xe0)
}

fn check_rate(name: &str, rate: u32) -> Result<(), DecodeError> {
    if (MIN_RATE..=MAX_RATE).contains(&rate) {
        Ok(())
    } else {
        Err(DecodeError::UnsupportedRate {
            path: name.to_string(),
            rate,
        })
    }
}

fn check_channels(name: &str, channels: usize, opts: &DecodeOptions) -> Result<(), DecodeError> {
    if channels > opts.max_channels {
        return Err(DecodeError::TooManyChannels {
            path: name.to_string(),
            channels,
            limit: opts.max_channels,
        });
    }
    Ok(())
}

fn fault_error(name: &str, f: Fault, at_s: f64) -> DecodeError {
    let path = name.to_string();
    match f {
        Fault::Io(source) => DecodeError::Io { path, source },
        Fault::NotAudio => DecodeError::NotAudio { path },
        Fault::Unsupported(codec) => DecodeError::UnsupportedCodec { path, codec },
        Fault::BadHeader(detail) => DecodeError::BadHeader { path, detail },
        Fault::NoTrack => DecodeError::NoAudioTrack { path },
        Fault::BadPacket(detail) => DecodeError::Corrupt { path, at_s, detail },
    }
}

fn too_long(duration_s: f64, limit_s: f64, partial: bool) -> String {
    let limit = human_secs(limit_s);
    if partial {
        format!("the recording runs past the limit of {limit}; decoding stopped there")
    } else {
        let d = human_secs(duration_s);
        format!("the recording is {d} long (per its header), over the limit of {limit}")
    }
}

/// `12.34 s`, `5.0 min`, `100.00 h`.
fn human_secs(s: f64) -> String {
    if s >= 3600.0 {
        format!("{:.2} h", s / 3600.0)
    } else if s >= 120.0 {
        format!("{:.1} min", s / 60.0)
    } else {
        format!("{s:.2} s")
    }
}
