//! How the process logs: the `tracing` subscriber on stderr, in the format an operator chose.
//!
//! Owns the choice of format (`RINGCAST_LOG_FORMAT`: `text`, the default, or `json`, one JSON
//! object per line for log shippers) and of colour: ANSI escape codes only when stderr is a
//! terminal and `NO_COLOR` is unset, so a log file or journald never receives them. The filter
//! comes from `RUST_LOG` (default `info`).
//!
//! It must never decide *what* is logged; callers log through `tracing` with structured fields.

use std::fmt;
use std::io::IsTerminal;

/// The environment variable that selects the format.
pub const FORMAT_VAR: &str = "RINGCAST_LOG_FORMAT";

/// The shape of each log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines (coloured only on a terminal).
    Text,
    /// One JSON object per line: `timestamp`, `level`, `target`, `fields` (with `message`).
    Json,
}

/// `RINGCAST_LOG_FORMAT` holds something other than `text` or `json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFormatError(pub String);

impl fmt::Display for LogFormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid setting {FORMAT_VAR}: '{}' is not a log format; use text or json",
            self.0
        )
    }
}

impl std::error::Error for LogFormatError {}

impl LogFormat {
    /// Reads the format from the variable's value (`None` or empty: text; case-insensitive).
    pub fn parse(value: Option<&str>) -> Result<LogFormat, LogFormatError> {
        match value.map(str::trim) {
            None | Some("") => Ok(LogFormat::Text),
            Some(v) if v.eq_ignore_ascii_case("text") => Ok(LogFormat::Text),
            Some(v) if v.eq_ignore_ascii_case("json") => Ok(LogFormat::Json),
            Some(v) => Err(LogFormatError(v.to_string())),
        }
    }
}

/// Whether text logs may carry colour: stderr is a terminal and `NO_COLOR` is unset or empty
/// (<https://no-color.org>).
pub fn colour(stderr_is_terminal: bool, no_color: Option<&str>) -> bool {
    stderr_is_terminal && no_color.map_or(true, str::is_empty)
}

/// Installs the process-wide subscriber on stderr. Call once, before the first log line.
pub fn init(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let no_color = std::env::var("NO_COLOR").ok();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder
            .with_ansi(colour(std::io::stderr().is_terminal(), no_color.as_deref()))
            .init(),
        LogFormat::Json => builder.json().with_ansi(false).init(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_defaults_to_text_and_accepts_both_names_in_any_case() {
        assert_eq!(LogFormat::parse(None), Ok(LogFormat::Text));
        assert_eq!(LogFormat::parse(Some("")), Ok(LogFormat::Text));
        assert_eq!(LogFormat::parse(Some("TEXT")), Ok(LogFormat::Text));
        assert_eq!(LogFormat::parse(Some(" json ")), Ok(LogFormat::Json));
    }

    #[test]
    fn an_unknown_format_names_the_variable_and_the_choices() {
        let err = LogFormat::parse(Some("yaml")).unwrap_err().to_string();
        assert!(err.contains(FORMAT_VAR) && err.contains("'yaml'"), "{err}");
        assert!(err.contains("text or json"), "{err}");
    }

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(colour(true, None));
        assert!(colour(true, Some("")));
        assert!(!colour(true, Some("1")));
        assert!(!colour(false, None));
    }
}
