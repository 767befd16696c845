//! The mapping of the Go-era `server`, `metrics`, `github` (with its orgs) and `health`
//! sections, and the two readers every section uses. A value the file leaves out or at 0 is
//! converted to what the Go exporter did at run time (its fallback); a value this exporter
//! cannot hold is clamped to the nearest accepted one, or, where nothing near means the same,
//! reported as not carried over.

use std::net::SocketAddr;
use std::time::Duration;

use super::go_file::GoFile;
use super::output::{ChangeKind::*, Out, Val};

const SECOND: Duration = Duration::from_secs(1);
const MINUTE: Duration = Duration::from_secs(60);
const DAY: Duration = Duration::from_secs(86_400);

/// A duration read with the Go fallback for 0, clamped into `min..=max` with a note.
pub(crate) fn duration_in(
    f: &mut GoFile,
    o: &mut Out,
    go_key: &str,
    ours: &str,
    fallback: Duration,
    (min, max): (Duration, Duration),
) -> Duration {
    let mut d = f.duration(go_key);
    if d.is_zero() {
        d = fallback;
    }
    let clamped = d.clamp(min, max);
    if clamped != d {
        o.note(
            Default,
            format!(
                "{go_key}: {} is outside what {ours} accepts ({} to {}); written as {}",
                shown(d),
                shown(min),
                shown(max),
                shown(clamped)
            ),
        );
    }
    o.set(ours, Val::Dur(clamped));
    clamped
}

/// A count read with the Go fallback for 0 or less, clamped into `min..=max` with a note.
pub(crate) fn count_in(
    f: &mut GoFile,
    o: &mut Out,
    go_key: &str,
    ours: &str,
    fallback: i64,
    (min, max): (i64, i64),
) -> i64 {
    let n = f.int(go_key).filter(|n| *n > 0).unwrap_or(fallback);
    let clamped = n.clamp(min, max);
    if clamped != n {
        o.note(
            Default,
            format!("{go_key}: {n} is outside what {ours} accepts ({min} to {max}); written as {clamped}"),
        );
    }
    o.set(ours, Val::Int(clamped));
    clamped
}

pub(crate) fn shown(d: Duration) -> String {
    super::duration::format(d)
}

/// `server` and `metrics`.
pub(crate) fn server(f: &mut GoFile, o: &mut Out) {
    match f.text("server.listen_addr") {
        None => {
            o.set("server.listen_addr", Val::Text("0.0.0.0:80".into()));
            o.note(
                Default,
                "server.listen_addr: unset meant port 80 (`:http`); written as 0.0.0.0:80 \
                 (this exporter's default is 0.0.0.0:8080)",
            );
        }
        Some(addr) => match listen_addr(&addr) {
            Some(ours) => {
                if ours != addr {
                    o.note(
                        Renamed,
                        format!("server.listen_addr: `{addr}` is written `{ours}` (ip:port)"),
                    );
                }
                o.set("server.listen_addr", Val::Text(ours));
            }
            None => f.problems.push(format!(
                "`server.listen_addr`: `{addr}` needs an IP address and a port (host names \
                 other than localhost are not accepted)"
            )),
        },
    }
    let level = f.text("server.log_level").unwrap_or_else(|| "info".into());
    if ["debug", "info", "warn", "error"].contains(&level.as_str()) {
        o.set("server.log_level", Val::Text(level));
    } else {
        f.problems.push(format!(
            "`server.log_level`: `{level}` is not one of debug, info, warn, error"
        ));
    }
    match f.text("metrics.topology").as_deref() {
        None => {}
        Some("single_service_target") => o.note(
            Dropped,
            "metrics.topology: every replica serves the same /metrics, so one scrape target \
             (the Service) is still right; there is no key for it",
        ),
        Some(other) => f.problems.push(format!(
            "`metrics.topology`: `{other}` was never supported (only single_service_target)"
        )),
    }
    if f.text("metrics.scrape_service_dns").is_some() {
        o.note(
            Dropped,
            "metrics.scrape_service_dns: never read; the scrape target is Prometheus configuration",
        );
    }
}

/// `:8080` → `0.0.0.0:8080`, `localhost:8080` → `127.0.0.1:8080`, an `ip:port` as it is.
fn listen_addr(addr: &str) -> Option<String> {
    let candidate = if let Some(port) = addr.strip_prefix(':') {
        format!("0.0.0.0:{port}")
    } else if let Some(port) = addr.strip_prefix("localhost:") {
        format!("127.0.0.1:{port}")
    } else {
        addr.to_string()
    };
    candidate.parse::<SocketAddr>().ok().map(|a| a.to_string())
}

/// `github`, `health` and the org list.
pub(crate) fn github(f: &mut GoFile, o: &mut Out) {
    match f.text("github.api_base_url") {
        None => {
            o.set(
                "github.api_base_url",
                Val::Text("https://api.github.com".into()),
            );
            o.note(
                Behaviour,
                "github.api_base_url: unset turned the GitHub probe off (always healthy); \
                 https://api.github.com/meta is now probed every 30 s",
            );
        }
        Some(url) => {
            let plain_http = url.starts_with("http://");
            let loopback = ["http://localhost", "http://127.", "http://[::1]"]
                .iter()
                .any(|p| url.starts_with(p));
            if plain_http && !loopback {
                o.set("github.allow_insecure_http", Val::Bool(true));
                o.note(
                    Behaviour,
                    "github.api_base_url is plain http:// to a host that is not loopback: \
                     credentials travel unencrypted; github.allow_insecure_http = true keeps it \
                     working — prefer https",
                );
            }
            if !url.contains("api.github.com") {
                o.note(
                    Behaviour,
                    "github.api_base_url now serves the App token exchange too (GitHub \
                     Enterprise Server works end to end)",
                );
            }
            o.set("github.api_base_url", Val::Text(url));
        }
    }
    duration_in(
        f,
        o,
        "github.request_timeout",
        "github.request_timeout",
        20 * SECOND,
        (SECOND, 10 * MINUTE),
    );
    let threshold = count_in(
        f,
        o,
        "github.unhealthy_failure_threshold",
        "github.unhealthy_failure_threshold",
        1,
        (1, 1000),
    );
    if threshold != 6 {
        o.note(
            Default,
            format!(
                "github.unhealthy_failure_threshold: {threshold} (this exporter's default is 6)"
            ),
        );
    }
    let cooldown = duration_in(
        f,
        o,
        "github.unhealthy_cooldown",
        "github.unhealthy_cooldown",
        MINUTE,
        (SECOND, DAY),
    );
    if cooldown != 2 * MINUTE {
        o.note(
            Default,
            format!(
                "github.unhealthy_cooldown: {} (this exporter's default is 2m)",
                shown(cooldown)
            ),
        );
    }
    let recover = count_in(
        f,
        o,
        "health.github_recover_success_threshold",
        "github.recover_success_threshold",
        1,
        (1, 1000),
    );
    o.note(
        Renamed,
        format!("health.github_recover_success_threshold → github.recover_success_threshold = {recover} (default 3)"),
    );
    let probe = f.duration("health.github_probe_interval");
    if f.has("health.github_probe_interval") || !probe.is_zero() {
        o.note(
            Dropped,
            format!(
                "health.github_probe_interval ({}): the GitHub probe runs every 30 s, fixed",
                shown(if probe.is_zero() { 30 * SECOND } else { probe })
            ),
        );
    }
    orgs(f, o);
}

fn orgs(f: &mut GoFile, o: &mut Out) {
    if f.orgs == 0 {
        f.problems
            .push("`github.orgs`: no org (the Go exporter refused that too)".into());
    }
    let mut allowlists = false;
    for i in 0..f.orgs {
        let key = |name: &str| format!("github.orgs[{i}].{name}");
        match f.text(&key("org")) {
            Some(org) => o.set_org(i, "org", Val::Text(org)),
            None => f.problems.push(format!("`{}`: required", key("org"))),
        }
        for id in ["app_id", "installation_id"] {
            match f.int(&key(id)) {
                Some(n) if n > 0 => o.set_org(i, id, Val::Int(n)),
                Some(n) => f
                    .problems
                    .push(format!("`{}`: {n} is not a valid id", key(id))),
                None if id == "app_id" => f.problems.push(format!(
                    "`{}`: required (an org needs its GitHub App: app_id and private_key_path)",
                    key(id)
                )),
                None => o.note(
                    Default,
                    format!("{}: unset; the installation is looked up per org", key(id)),
                ),
            }
        }
        match f.text(&key("private_key_path")) {
            Some(path) => o.set_org(i, "private_key_path", Val::Text(path)),
            None => f
                .problems
                .push(format!("`{}`: required", key("private_key_path"))),
        }
        let interval = f.duration(&key("scrape_interval"));
        if interval.is_zero() {
            f.problems.push(format!(
                "`{}`: required, above 0 (the Go exporter refused 0 too)",
                key("scrape_interval")
            ));
        } else if interval < SECOND || interval > DAY {
            f.problems.push(format!(
                "`{}`: {} is outside 1s..24h (longer loses activity: every window is 24 h)",
                key("scrape_interval"),
                shown(interval)
            ));
        } else {
            o.set_org(i, "scrape_interval", Val::Dur(interval));
        }
        let list = f.list(&key("repo_allowlist")).unwrap_or_default();
        if !list.is_empty() && !list.iter().any(|r| r == "*") {
            allowlists = true;
            o.set_org(i, "repo_allowlist", Val::Texts(list));
        }
        let workers = f
            .int(&key("per_org_concurrency"))
            .filter(|n| *n > 0)
            .unwrap_or(1);
        let clamped = workers.clamp(1, 64);
        if clamped != workers {
            o.note(
                Default,
                format!(
                    "{}: {workers} is above 64; written as 64",
                    key("per_org_concurrency")
                ),
            );
        } else if !f.has(&key("per_org_concurrency")) {
            o.note(
                Default,
                format!(
                    "{}: unset meant 1 (this exporter's default is 4)",
                    key("per_org_concurrency")
                ),
            );
        }
        o.set_org(i, "per_org_concurrency", Val::Int(clamped));
    }
    if allowlists {
        o.note(
            Behaviour,
            "github.orgs[].repo_allowlist: entries are glob patterns now (a plain name still \
             matches exactly that repository, case-sensitively); repo_denylist is new",
        );
    }
    if f.orgs > 0 {
        o.note(
            Behaviour,
            "github.orgs[].include_archived = false by default: archived repositories are \
             skipped (the Go exporter scraped them); set it to true per org to keep them",
        );
        o.note(
            Behaviour,
            "github.orgs[].token is new: an org may use a token instead of an App",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_addresses_become_ip_and_port() {
        assert_eq!(listen_addr(":8080").as_deref(), Some("0.0.0.0:8080"));
        assert_eq!(listen_addr("localhost:9").as_deref(), Some("127.0.0.1:9"));
        assert_eq!(listen_addr("[::]:80").as_deref(), Some("[::]:80"));
        assert_eq!(listen_addr("exporter:80"), None);
    }
}
