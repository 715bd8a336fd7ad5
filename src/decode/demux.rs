//! The only code that touches symphonia: finds the container, picks the
//! audio track, makes its decoder, and hands back each packet's samples as
//! planar f32. Symphonia's errors become [`Fault`]s here, sorted by what the
//! caller does with them (give up, skip the packet, or stop at the end), so
//! no symphonia type leaves this file.

use std::fs::File;
use std::io::Cursor;

use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::{self, CodecType, Decoder, DecoderOptions};
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::{FormatOptions, FormatReader};
use symphonia::core::io::{MediaSource, MediaSourceStream, MediaSourceStreamOptions};
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Instantiate;

/// Why a step failed, before the caller adds the file's name and position.
#[derive(Debug)]
pub(super) enum Fault {
    /// Reading the underlying file failed (not the end of it).
    Io(std::io::Error),
    /// No known container marker was found.
    NotAudio,
    /// A container or codec feature this build does not decode.
    Unsupported(String),
    /// The container header could not be parsed.
    BadHeader(String),
    /// The container has no track with a known codec.
    NoTrack,
    /// One packet could not be demuxed or decoded; later ones may be fine.
    BadPacket(String),
}

/// What the container's header says about the chosen track.
#[derive(Debug, Clone)]
pub(super) struct TrackInfo {
    /// Short codec name: `pcm_s16le`, `pcm_mulaw`, `mp3`, `flac`, `vorbis`…
    pub codec: String,
    pub sample_rate: Option<u32>,
    pub channels: Option<usize>,
    /// Frames (samples per channel) in the track, where the header says.
    pub n_frames: Option<u64>,
}

/// One decoded packet, planar: channel `c` is
/// `samples[c * frames..(c + 1) * frames]`.
pub(super) struct Block<'a> {
    pub rate: u32,
    pub channels: usize,
    pub frames: usize,
    pub samples: &'a [f32],
}

impl Block<'_> {
    pub fn channel(&self, c: usize) -> &[f32] {
        let start = c.saturating_mul(self.frames);
        self.samples
            .get(start..start.saturating_add(self.frames))
            .unwrap_or(&[])
    }
}

/// An opened recording, ready to yield blocks.
pub(super) struct Demuxer {
    format: Box<dyn FormatReader>,
    decoder: Box<dyn Decoder>,
    track_id: u32,
    info: TrackInfo,
    buf: Option<SampleBuffer<f32>>,
}

pub(super) fn open_file(file: File) -> Result<Demuxer, Fault> {
    open(Box::new(file))
}

pub(super) fn open_bytes(bytes: Vec<u8>) -> Result<Demuxer, Fault> {
    open(Box::new(Cursor::new(bytes)))
}

/// Symphonia 0.5's probe ignores extension hints and finds the container
/// by its marker, so none is taken.
fn open(source: Box<dyn MediaSource>) -> Result<Demuxer, Fault> {
    let mut mss = MediaSourceStream::new(source, MediaSourceStreamOptions::default());
    let probe = symphonia::default::get_probe();
    // Gapless trims the MP3 encoder's delay and padding where a LAME/Xing
    // tag gives them, so durations match what was recorded.
    let format_opts = FormatOptions {
        enable_gapless: true,
        ..FormatOptions::default()
    };
    // The probe's own loop, unrolled, so that "no container found" and "the
    // container's header is bad" are told apart.
    let format = loop {
        match probe.next(&mut mss) {
            Ok(Instantiate::Format(make)) => {
                break make(mss, &format_opts).map_err(header_fault)?
            }
            Ok(Instantiate::Metadata(make)) => {
                // Tags before the audio (ID3v2): read past them, keep nothing.
                make(&MetadataOptions::default())
                    .read_all(&mut mss)
                    .map_err(header_fault)?;
            }
            Err(SymError::IoError(e)) if e.kind() != std::io::ErrorKind::UnexpectedEof => {
                return Err(Fault::Io(e))
            }
            Err(_) => return Err(Fault::NotAudio),
        }
    };

    let track = format
        .tracks()
        .iter()
        .find(|t| t.codec_params.codec != codecs::CODEC_TYPE_NULL)
        .ok_or(Fault::NoTrack)?;
    let params = track.codec_params.clone();
    let track_id = track.id;
    let info = TrackInfo {
        codec: codec_name(params.codec),
        sample_rate: params.sample_rate,
        channels: params.channels.map(|c| c.count()),
        n_frames: params.n_frames,
    };
    let decoder = symphonia::default::get_codecs()
        .make(&params, &DecoderOptions::default())
        .map_err(|e| match e {
            SymError::Unsupported(_) => Fault::Unsupported(info.codec.clone()),
            other => header_fault(other),
        })?;
    Ok(Demuxer {
        format,
        decoder,
        track_id,
        info,
        buf: None,
    })
}

impl Demuxer {
    pub fn info(&self) -> &TrackInfo {
        &self.info
    }

    /// The next packet's samples; `Ok(None)` at the end of the stream.
    /// After `Err(Fault::BadPacket)` the caller may call again.
    pub fn next_block(&mut self) -> Result<Option<Block<'_>>, Fault> {
        let packet = loop {
            match self.format.next_packet() {
                Ok(p) if p.track_id() == self.track_id => break p,
                Ok(_) => continue,
                // Symphonia 0.5 ends every stream, complete or cut short,
                // with UnexpectedEof; the caller tells them apart by length.
                Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    return Ok(None)
                }
                Err(SymError::IoError(e)) => return Err(Fault::Io(e)),
                // A new chained stream (Ogg): the call is what came first.
                Err(SymError::ResetRequired) => return Ok(None),
                Err(e) => return Err(Fault::BadPacket(e.to_string())),
            }
        };
        let decoded = match self.decoder.decode(&packet) {
            Ok(d) => d,
            Err(SymError::Unsupported(what)) => return Err(Fault::Unsupported(what.to_string())),
            Err(e) => return Err(Fault::BadPacket(e.to_string())),
        };
        let spec = *decoded.spec();
        let channels = spec.channels.count();
        let frames = decoded.frames();
        if channels == 0 {
            return Err(Fault::BadPacket("packet has no channels".into()));
        }
        let capacity = decoded.capacity() as u64;
        let need = (capacity as usize).saturating_mul(channels);
        if self.buf.as_ref().is_none_or(|b| b.capacity() < need) {
            self.buf = Some(SampleBuffer::<f32>::new(capacity, spec));
        }
        let Some(buf) = self.buf.as_mut() else {
            return Err(Fault::BadPacket("no sample buffer".into()));
        };
        buf.copy_planar_ref(decoded);
        Ok(Some(Block {
            rate: spec.rate,
            channels,
            frames,
            samples: buf.samples(),
        }))
    }
}

fn header_fault(e: SymError) -> Fault {
    match e {
        SymError::IoError(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            Fault::BadHeader("the file ends inside its header".into())
        }
        SymError::IoError(e) => Fault::Io(e),
        // A RIFF/WAVE file with a format chunk and no data chunk.
        SymError::Unsupported(what) if what.contains("missing data chunk") => Fault::NoTrack,
        SymError::Unsupported(what) => Fault::Unsupported(what.to_string()),
        other => Fault::BadHeader(other.to_string()),
    }
}

/// The registry's short name; codecs this build leaves out are named from
/// symphonia's list so the error can say which one it was.
fn codec_name(codec: CodecType) -> String {
    if let Some(d) = symphonia::default::get_codecs().get_codec(codec) {
        return d.short_name.to_string();
    }
    let known = [
        (codecs::CODEC_TYPE_ADPCM_MS, "adpcm_ms"),
        (codecs::CODEC_TYPE_ADPCM_IMA_WAV, "adpcm_ima_wav"),
        (codecs::CODEC_TYPE_MP1, "mp1"),
        (codecs::CODEC_TYPE_MP2, "mp2"),
        (codecs::CODEC_TYPE_AAC, "aac"),
        (codecs::CODEC_TYPE_OPUS, "opus"),
        (codecs::CODEC_TYPE_SPEEX, "speex"),
        (codecs::CODEC_TYPE_ALAC, "alac"),
    ];
    known
        .iter()
        .find(|(c, _)| *c == codec)
        .map(|(_, n)| (*n).to_string())
        .unwrap_or_else(|| format!("codec {codec}"))
}
