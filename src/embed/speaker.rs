//! The speaker encoder on ONNX Runtime: Resemblyzer's GE2E network (a
//! 3-layer LSTM over 40 mel bands, then a linear layer, ReLU and L2
//! normalisation; 256-d), converted to ONNX by `scripts/fetch-models.sh`
//! (group `speaker`) from the weights the `Resemblyzer` wheel ships. It
//! says how alike two stretches of voice are; `crate::diarize` turns that
//! into speakers. The mel front end is in `crate::diarize::mel`.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ort::session::Session;
use ort::value::Tensor;

use super::{check_file, EmbedError};

/// Dimension of a speaker embedding.
pub const SPEAKER_DIM: usize = 256;
/// Mel bands per frame the encoder takes.
pub const MEL_BANDS: usize = 40;

/// One session (the LSTM is small; calls needing it are mono calls, one
/// at a time per worker thread).
pub struct SpeakerEncoder {
    model: PathBuf,
    session: Mutex<Session>,
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
    pub fn load(runtime: &Path, model: &Path) -> Result<Self, EmbedError> {
        check_file(runtime, "ONNX Runtime library")?;
        check_file(model, "speaker encoder")?;
        let env = super::encoder::environment(runtime)?;
        let session = super::encoder::session(&env, model)?;
        Ok(SpeakerEncoder {
            model: model.to_path_buf(),
            session: Mutex::new(session),
        })
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
        super::encoder::rows(&outputs, "embedding", batch, SPEAKER_DIM, "speaker encoder")
    }
}
