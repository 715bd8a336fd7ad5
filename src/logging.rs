//! Structured logging set-up: key/value events to stderr, human-readable by
//! default or JSON lines for log shippers; level from `RUST_LOG`. Colours
//! only when stderr is a terminal (and `NO_COLOR` is unset), so redirected
//! logs hold no escape codes.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// The filter when `RUST_LOG` is unset: warnings, callqa's own events from
/// `info`, and nothing from the audio decoders, whose probe logs an error
/// for every file it does not recognise before `decode` rejects it with
/// its own message.
pub const DEFAULT_FILTER: &str = "warn,callqa=info,symphonia=off";

pub fn init(json: bool) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    // A second init (tests) is harmless.
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.compact().try_init()
    };
}

/// An error and its causes on one line, each cause once: an error whose
/// message already quotes its source (`cannot read x: No such file…`) is
/// not followed by that source again.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut line = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        cause = c.source();
    }
    line
}

#[cfg(test)]
mod tests {
    #[test]
    fn each_cause_is_printed_once() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "No such file");
        let quoted = crate::intake::IntakeError::Read {
            path: "x".into(),
            source: io,
        };
        assert_eq!(super::error_chain(&quoted), "cannot read x: No such file");
        let e = anyhow::Error::new(quoted).context("loading jobs");
        assert_eq!(
            super::error_chain(&*e),
            "loading jobs: cannot read x: No such file"
        );
    }
}
