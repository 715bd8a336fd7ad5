//! Serving recordings with HTTP range requests, so the page's audio player
//! can seek to a flagged moment without downloading the whole call. Only
//! the path stored in a result is ever opened (the handler looks it up by
//! job id), and only inside the configured recording roots.

use std::path::{Path, PathBuf};

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::api::ApiError;

/// What a `Range` header asks of a file of `len` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeSpec {
    /// No (usable) range: the whole file, 200.
    Full,
    /// `[start, end]` inclusive, 206.
    Part(u64, u64),
    /// A range outside the file: 416.
    Unsatisfiable,
}

/// Parses a single `bytes=` range (`a-b`, `a-`, `-n`). Several ranges or
/// other units are answered with the whole file, which RFC 9110 allows.
pub fn parse_range(h: Option<&str>, len: u64) -> RangeSpec {
    let Some(spec) = h.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return RangeSpec::Full;
    };
    if spec.contains(',') {
        return RangeSpec::Full;
    }
    let Some((a, b)) = spec.split_once('-') else {
        return RangeSpec::Full;
    };
    let (a, b) = (a.trim(), b.trim());
    let parsed = match (a.is_empty(), b.is_empty()) {
        (false, _) => {
            let Ok(start) = a.parse::<u64>() else {
                return RangeSpec::Full;
            };
            let end = if b.is_empty() {
                Some(len.saturating_sub(1))
            } else {
                match b.parse::<u64>() {
                    Ok(e) if e >= start => Some(e.min(len.saturating_sub(1))),
                    _ => return RangeSpec::Full,
                }
            };
            if start >= len {
                return RangeSpec::Unsatisfiable;
            }
            end.map(|e| (start, e))
        }
        (true, false) => match b.parse::<u64>() {
            Ok(0) => return RangeSpec::Unsatisfiable,
            Ok(n) if len > 0 => Some((len.saturating_sub(n), len - 1)),
            Ok(_) => return RangeSpec::Unsatisfiable,
            Err(_) => return RangeSpec::Full,
        },
        (true, true) => None,
    };
    match parsed {
        Some((s, e)) => RangeSpec::Part(s, e),
        None => RangeSpec::Full,
    }
}

fn content_type(path: &Path) -> &'static str {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("wav") => "audio/wav",
        Some("mp3") => "audio/mpeg",
        Some("ogg" | "oga" | "opus") => "audio/ogg",
        Some("flac") => "audio/flac",
        Some("m4a" | "mp4") => "audio/mp4",
        _ => "application/octet-stream",
    }
}

/// Checks a stored recording path: it must resolve (symlinks followed)
/// to a regular file inside one of the (canonical) roots.
pub async fn checked_path(stored: &str, roots: &[PathBuf]) -> Result<PathBuf, ApiError> {
    if roots.is_empty() {
        return Err(ApiError::NotFound(
            "recordings are not served: no recording roots are configured".into(),
        ));
    }
    let canon = tokio::fs::canonicalize(stored)
        .await
        .map_err(|_| ApiError::NotFound("the recording file is missing".into()))?;
    if !roots.iter().any(|r| canon.starts_with(r)) {
        tracing::warn!(path = %canon.display(), "stored recording lies outside the recording roots");
        return Err(ApiError::NotFound(
            "the recording lies outside the recording roots".into(),
        ));
    }
    let meta = tokio::fs::metadata(&canon)
        .await
        .map_err(|_| ApiError::NotFound("the recording file is missing".into()))?;
    if !meta.is_file() {
        return Err(ApiError::NotFound("the recording is not a file".into()));
    }
    // A hard link inside the roots may point at any file on the same
    // filesystem: serve only files with a single link.
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if meta.nlink() > 1 {
            tracing::warn!(path = %canon.display(), links = meta.nlink(), "stored recording has several hard links; not served");
            return Err(ApiError::NotFound(
                "the recording is not a file with a single link".into(),
            ));
        }
    }
    Ok(canon)
}

const CHUNK: usize = 64 * 1024;

/// A response with the file (or the asked range of it), streamed in chunks.
pub async fn serve_file(path: &Path, range: Option<&str>) -> Result<Response, ApiError> {
    let mut file = tokio::fs::File::open(path)
        .await
        .map_err(|e| ApiError::Internal(format!("open recording: {e}")))?;
    let len = file
        .metadata()
        .await
        .map_err(|e| ApiError::Internal(format!("stat recording: {e}")))?
        .len();
    let (status, start, end) = match parse_range(range, len) {
        RangeSpec::Full => (StatusCode::OK, 0, len.saturating_sub(1)),
        RangeSpec::Part(s, e) => (StatusCode::PARTIAL_CONTENT, s, e),
        RangeSpec::Unsatisfiable => {
            let mut r = Response::new(Body::empty());
            *r.status_mut() = StatusCode::RANGE_NOT_SATISFIABLE;
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}")) {
                r.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return Ok(r);
        }
    };
    let count = if len == 0 { 0 } else { end - start + 1 };
    file.seek(std::io::SeekFrom::Start(start))
        .await
        .map_err(|e| ApiError::Internal(format!("seek recording: {e}")))?;
    let stream = futures_util::stream::unfold((file, count), |(mut f, left)| async move {
        if left == 0 {
            return None;
        }
        let mut buf = vec![0u8; CHUNK.min(left as usize)];
        match f.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((
                    Ok::<_, std::io::Error>(Bytes::from(buf)),
                    (f, left - n as u64),
                ))
            }
            Err(e) => Some((Err(e), (f, 0))),
        }
    });
    let mut r = Response::new(Body::from_stream(stream));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(path)),
    );
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    if let Ok(v) = HeaderValue::from_str(&count.to_string()) {
        h.insert(header::CONTENT_LENGTH, v);
    }
    if status == StatusCode::PARTIAL_CONTENT {
        if let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{end}/{len}")) {
            h.insert(header::CONTENT_RANGE, v);
        }
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use RangeSpec::*;

    #[test]
    fn range_table() {
        let cases: &[(Option<&str>, u64, RangeSpec)] = &[
            (None, 100, Full),
            (Some("bytes=0-"), 100, Part(0, 99)),
            (Some("bytes=10-19"), 100, Part(10, 19)),
            (Some("bytes=90-200"), 100, Part(90, 99)),
            (Some("bytes=-10"), 100, Part(90, 99)),
            (Some("bytes=-500"), 100, Part(0, 99)),
            (Some("bytes=100-"), 100, Unsatisfiable),
            (Some("bytes=-0"), 100, Unsatisfiable),
            (Some("bytes=20-10"), 100, Full),
            (Some("bytes=0-1,5-6"), 100, Full),
            (Some("items=0-1"), 100, Full),
            (Some("bytes=x-"), 100, Full),
            (Some("bytes=0-"), 0, Unsatisfiable),
        ];
        for (h, len, want) in cases {
            assert_eq!(parse_range(*h, *len), *want, "{h:?} of {len}");
        }
    }
}
