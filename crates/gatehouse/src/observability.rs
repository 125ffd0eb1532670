//! Logging: JSON in production and preview (one object per line, what log
//! drains parse), readable text locally. Logs go to stderr so stdout stays
//! free for the host protocol (`Dev server listening: <port>`).

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::{LogFormat, LogSettings};

/// Installs the global subscriber. A second call (tests) is a no-op.
pub fn init(settings: &LogSettings) {
    let registry = tracing_subscriber::registry().with(settings.filter.clone());
    let _already_set = match settings.format {
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    .with_span_list(false)
                    .with_writer(std::io::stderr),
            )
            .try_init(),
        LogFormat::Pretty => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                    .with_writer(std::io::stderr),
            )
            .try_init(),
    };
}

/// The log settings from a configuration result, valid or not, so the
/// problems themselves are logged in the format the deployment expects.
pub fn settings(config: &Result<crate::Config, crate::config::ConfigErrors>) -> &LogSettings {
    match config {
        Ok(config) => &config.log,
        Err(errors) => &errors.log,
    }
}
