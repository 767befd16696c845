//! What a failed load returns: every problem as (key, value, reason), and the redaction rules
//! that keep secrets and URL passwords out of those messages.

use std::fmt;

/// One thing wrong with the configuration. `value` is already redacted when the key is a
/// secret or the value is a URL with a password, so the whole problem is safe to print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// Dotted key path (`server.listen_addr`, `github.orgs[1].token`), or `--config`.
    pub key: String,
    /// The offending value as configured (redacted for secrets).
    pub value: String,
    /// Why it is rejected, lower-case, naming the layer it came from when known.
    pub reason: String,
}

/// Every problem found while loading; the binary prints them one per line and exits 2.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", Lines(.problems))]
pub struct ConfigErrors {
    pub problems: Vec<ConfigProblem>,
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}: {}", self.key, self.value, self.reason)
    }
}

/// Displays problems one per line, without a trailing newline.
struct Lines<'a>(&'a [ConfigProblem]);

impl fmt::Display for Lines<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}

/// Placeholder printed instead of a secret.
pub(crate) const REDACTED: &str = "[REDACTED]";

/// Replaces the password of anything that parses as a URL with a password, so that a redis or
/// amqp URL in a message or `Debug` print never shows credentials. Other text is returned as is.
pub(crate) fn redact_url_password(text: &str) -> String {
    match url::Url::parse(text) {
        Ok(mut parsed) if parsed.password().is_some() => {
            // Cannot fail: the URL already has a password, hence a host that accepts one.
            let _ = parsed.set_password(Some("REDACTED"));
            parsed.to_string()
        }
        _ => text.to_string(),
    }
}

/// Collects problems in the order they are found.
#[derive(Debug, Default)]
pub(crate) struct Problems(pub Vec<ConfigProblem>);

impl Problems {
    /// Records a problem; `value` must already be redacted by the caller when secret.
    pub(crate) fn push(
        &mut self,
        key: impl Into<String>,
        value: impl Into<String>,
        reason: impl Into<String>,
    ) {
        self.0.push(ConfigProblem {
            key: key.into(),
            value: value.into(),
            reason: reason.into(),
        });
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether a problem was already recorded for `key`, so later checks do not pile a second,
    /// derived complaint onto a value that could not even be read.
    pub(crate) fn has_key(&self, key: &str) -> bool {
        self.0.iter().any(|p| p.key == key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Display form is one `key=value: reason` line per problem.
    #[test]
    fn display_is_one_line_per_problem() {
        let errors = ConfigErrors {
            problems: vec![
                ConfigProblem {
                    key: "a.b".into(),
                    value: "x".into(),
                    reason: "bad".into(),
                },
                ConfigProblem {
                    key: "c".into(),
                    value: String::new(),
                    reason: "empty".into(),
                },
            ],
        };
        assert_eq!(errors.to_string(), "a.b=x: bad\nc=: empty");
    }

    /// A URL password is replaced; URLs without one and plain text are untouched.
    #[test]
    fn url_passwords_are_redacted() {
        let cases = [
            (
                "redis://user:hunter2@host:6379/0",
                "redis://user:REDACTED@host:6379/0",
            ),
            ("amqp://:pw@rabbit/", "amqp://:REDACTED@rabbit/"),
            ("redis://host:6379", "redis://host:6379"),
            ("not a url", "not a url"),
        ];
        for (input, want) in cases {
            assert_eq!(redact_url_password(input), want, "input {input}");
        }
    }
}
