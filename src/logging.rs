//! Structured logging set-up: key/value events to stderr, human-readable by
//! default or JSON lines for log shippers; level from `RUST_LOG`.

use tracing_subscriber::EnvFilter;

pub fn init(json: bool) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn,callqa=info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // A second init (tests) is harmless.
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.compact().try_init()
    };
}
