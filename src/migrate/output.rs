//! What a migration produces: this exporter's keys with their values, in the order of
//! `config/default.toml`, the list of changes, and the keys that could not be carried over;
//! and its rendering as one TOML document whose comments explain the changes.

use std::fmt::Write as _;
use std::time::Duration;

use super::duration;

/// One value of this exporter's configuration.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Val {
    Text(String),
    Int(i64),
    Bool(bool),
    Float(f64),
    Dur(Duration),
    Texts(Vec<String>),
    Durs(Vec<Duration>),
}

/// What kind of change a line of the change list reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ChangeKind {
    /// A key that lives under another name (and perhaps another syntax).
    Renamed,
    /// A key with no equivalent, and why.
    Dropped,
    /// A value the Go exporter chose when the file left it out or at 0, or a default that
    /// differs between the two exporters.
    Default,
    /// Something that works differently with the same setting.
    Behaviour,
    /// A secret that is not written into the output, and how to supply it.
    Secret,
}

impl ChangeKind {
    fn label(self) -> &'static str {
        match self {
            ChangeKind::Renamed => "renamed",
            ChangeKind::Dropped => "dropped",
            ChangeKind::Default => "default",
            ChangeKind::Behaviour => "behaviour",
            ChangeKind::Secret => "secret",
        }
    }
}

/// One line of the change list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub kind: ChangeKind,
    pub text: String,
}

/// The converted configuration being built.
#[derive(Debug, Default)]
pub(crate) struct Out {
    top: Vec<(String, Val)>,
    orgs: Vec<Vec<(String, Val)>>,
    pub changes: Vec<Change>,
}

impl Out {
    /// Sets top-level key `path` (dotted, e.g. `store.redis_url`).
    pub(crate) fn set(&mut self, path: &str, value: Val) {
        self.top.retain(|(p, _)| p != path);
        self.top.push((path.to_string(), value));
    }

    /// Sets `name` in org entry `index` (entries are created in order).
    pub(crate) fn set_org(&mut self, index: usize, name: &str, value: Val) {
        while self.orgs.len() <= index {
            self.orgs.push(Vec::new());
        }
        self.orgs[index].push((name.to_string(), value));
    }

    /// The value set for `path`, if any.
    pub(crate) fn get(&self, path: &str) -> Option<&Val> {
        self.top.iter().find(|(p, _)| p == path).map(|(_, v)| v)
    }

    pub(crate) fn note(&mut self, kind: ChangeKind, text: impl Into<String>) {
        self.changes.push(Change {
            kind,
            text: text.into(),
        });
    }

    /// The configuration as TOML: sections in the order their first key was set, the org
    /// entries after `[github]`.
    pub(crate) fn toml(&self) -> String {
        let mut sections: Vec<&str> = Vec::new();
        for (path, _) in &self.top {
            let section = section_of(path);
            if !sections.contains(&section) {
                sections.push(section);
            }
        }
        if !self.orgs.is_empty() && !sections.contains(&"github") {
            sections.push("github");
        }
        let mut out = String::new();
        for section in sections {
            let _ = writeln!(out, "[{section}]");
            for (path, value) in self.top.iter().filter(|(p, _)| section_of(p) == section) {
                let name = &path[section.len() + 1..];
                let _ = writeln!(out, "{name} = {}", render(value));
            }
            out.push('\n');
            if section == "github" {
                for org in &self.orgs {
                    out.push_str("[[github.orgs]]\n");
                    for (name, value) in org {
                        let _ = writeln!(out, "{name} = {}", render(value));
                    }
                    out.push('\n');
                }
            }
        }
        out
    }
}

/// `copilot.enterprise.slug` → `copilot.enterprise`.
fn section_of(path: &str) -> &str {
    path.rsplit_once('.').map_or("", |(section, _)| section)
}

fn render(value: &Val) -> String {
    match value {
        Val::Text(s) => quote(s),
        Val::Int(n) => n.to_string(),
        Val::Bool(b) => b.to_string(),
        Val::Float(f) => {
            let text = f.to_string();
            if text.contains('.') || text.contains('e') {
                text
            } else {
                format!("{text}.0")
            }
        }
        Val::Dur(d) => quote(&duration::format(*d)),
        Val::Texts(items) => list(items.iter().map(|s| quote(s))),
        Val::Durs(items) => list(items.iter().map(|d| quote(&duration::format(*d)))),
    }
}

fn list(items: impl Iterator<Item = String>) -> String {
    format!("[{}]", items.collect::<Vec<_>>().join(", "))
}

/// A TOML basic string: `"` and `\` escaped, control characters as `\uXXXX`.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The change list as TOML comments, grouped by kind, then the keys that could not be
/// carried over.
pub(crate) fn comments(source: &str, changes: &[Change], blockers: &[String]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# ---- migrate-config: changes from the Go exporter's configuration `{source}` ----"
    );
    let mut sorted: Vec<&Change> = changes.iter().collect();
    sorted.sort_by_key(|c| c.kind);
    for change in sorted {
        let _ = writeln!(
            out,
            "# {:<10} {}",
            format!("{}:", change.kind.label()),
            change.text
        );
    }
    for blocker in blockers {
        let _ = writeln!(out, "# CANNOT CARRY OVER: {blocker}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_output_groups_sections_and_quotes_text() {
        let mut out = Out::default();
        out.set("server.listen_addr", Val::Text("0.0.0.0:8080".into()));
        out.set("github.api_base_url", Val::Text("a\"b\\c".into()));
        out.set_org(0, "org", Val::Text("acme".into()));
        out.set("copilot.enterprise.enabled", Val::Bool(true));
        out.set(
            "backfill.requeue_delays",
            Val::Durs(vec![Duration::from_secs(60)]),
        );
        out.set("telemetry.otel_trace_sample_ratio", Val::Float(1.0));
        let toml = out.toml();
        let want = "[server]\nlisten_addr = \"0.0.0.0:8080\"\n\n[github]\napi_base_url = \
                    \"a\\\"b\\\\c\"\n\n[[github.orgs]]\norg = \"acme\"\n\n[copilot.enterprise]\n\
                    enabled = true\n\n[backfill]\nrequeue_delays = [\"1m\"]\n\n[telemetry]\n\
                    otel_trace_sample_ratio = 1.0\n\n";
        assert_eq!(toml, want);
    }
}
