//! Logging: `tracing` lines on stderr (stdout stays clean for CLI output such as new keys).
//!
//! Lines are handed to a writer thread (`tracing_appender::non_blocking`), so a request never
//! waits for a write to stderr: at the default level every request logs a line, and writing
//! each one inline cost about a tenth of the authenticated-read throughput. The queue is not
//! lossy: when it is full, callers wait rather than lines being dropped.

use std::io::IsTerminal;

use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::{fmt, EnvFilter};

use crate::config::LogFormat;

/// Lines queued for the writer thread before callers wait.
const QUEUED_LINES: usize = 64 * 1024;

/// Installs the logger. Keep the returned guard alive until exit: dropping it flushes the
/// lines still queued.
pub fn init(filter: &str, format: LogFormat) -> anyhow::Result<WorkerGuard> {
    let filter = EnvFilter::try_new(filter)
        .map_err(|err| anyhow::anyhow!("invalid log level {filter:?}: {err}"))?;
    let (writer, guard) = NonBlockingBuilder::default()
        .lossy(false)
        .buffered_lines_limit(QUEUED_LINES)
        .thread_name("intendedops-log")
        .finish(std::io::stderr());
    let builder = fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(std::io::stderr().is_terminal());
    let installed = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().with_current_span(true).try_init(),
    };
    installed.map_err(|err| anyhow::anyhow!("cannot install the logger: {err}"))?;
    Ok(guard)
}
