//! The status page at `/`: server-rendered HTML with inline CSS and no script or external asset.
//! It shows this replica's role, epoch and owned orgs, one table row per configured org (last
//! successful scrape, cycle duration, cycles by result, series, rate budget, health, LOC mode),
//! the backfill queues and dead letters, periodic services and links. Per-org figures are read
//! back from the served `/metrics` snapshot and the replica's own series; every value that comes
//! from outside (org, repo, queue names, error texts) is HTML-escaped.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, UNIX_EPOCH};

use gse_actors::backfill::QueueSample;
use gse_actors::health::{ComponentStatus, HealthReport};

use super::samples::Sample;

/// Everything the page shows, gathered by the handler.
#[derive(Debug)]
pub struct StatusInput<'a> {
    pub version: &'a str,
    pub now_unix: f64,
    /// `None` when the HealthActor did not answer in time.
    pub report: Option<&'a HealthReport>,
    /// Configured orgs, in configuration order.
    pub orgs: &'a [String],
    pub store_backend: &'a str,
    pub queue_backend: &'a str,
    /// Series in the served `/metrics` snapshot.
    pub series_served: usize,
    /// Samples of the served `/metrics` (the `gh_exporter_*` per-org families and activity).
    pub shared: &'a [Sample],
    /// Samples of this replica's own series (backfill counters).
    pub replica: &'a [Sample],
    /// The backfill queues sampled now; `None` when backfill is disabled, `Err` when sampling
    /// failed.
    pub queues: Option<Result<Vec<QueueSample>, String>>,
}

/// Families the page reads from the served `/metrics`.
pub fn wanted_shared(name: &str) -> bool {
    name.starts_with("gh_activity_")
        || matches!(
            name,
            "gh_exporter_last_successful_scrape_timestamp_seconds"
                | "gh_exporter_scrape_duration_seconds"
                | "gh_exporter_scrape_runs_total"
                | "gh_exporter_github_rate_limit_remaining"
                | "gh_exporter_github_rate_limit_reset_timestamp_seconds"
                | "gh_exporter_github_org_healthy"
                | "gh_exporter_loc_source_mode"
                | "gh_exporter_loc_stats_waiting_repositories"
        )
}

/// Families the page reads from this replica's series.
pub fn wanted_replica(name: &str) -> bool {
    name == "gh_exporter_backfill_dead_lettered_total"
}

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}\
h1{font-size:1.4em}h2{font-size:1.1em;margin-top:1.5em}\
table{border-collapse:collapse}th,td{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}\
th{background:#f3f3f3}.ok{color:#176317}.bad{color:#a4161a;font-weight:bold}.muted{color:#777}\
code{background:#f3f3f3;padding:0 .2em}";

/// Renders the whole page.
pub fn render(input: &StatusInput<'_>) -> String {
    let mut html = String::with_capacity(8192);
    let (role, mode, epoch) = input
        .report
        .map(|r| (r.role.as_str(), r.mode.as_str(), r.epoch))
        .unwrap_or(("unknown", "unknown", 0));
    let owned: &[String] = input.report.map_or(&[], |r| r.owned_orgs.as_slice());
    let _ = write!(
        html,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\">\
         <title>github-stats-exporter</title><style>{STYLE}</style></head><body>\
         <h1>github-stats-exporter {version}</h1>\
         <p id=\"role\">Role: <b>{role}</b> &middot; epoch <b>{epoch}</b> &middot; mode: <b>{mode}</b> \
         &middot; store: {store} &middot; queue: {queue} &middot; series served: {series}</p>\
         <p id=\"owned\">Orgs scraped by this replica ({count}): {owned_list}</p>",
        version = escape(input.version),
        role = escape(role),
        mode = escape(mode),
        store = escape(input.store_backend),
        queue = escape(input.queue_backend),
        series = input.series_served,
        count = owned.len(),
        owned_list = if owned.is_empty() {
            "<span class=\"muted\">none</span>".to_string()
        } else {
            owned
                .iter()
                .map(|o| format!("<code>{}</code>", escape(o)))
                .collect::<Vec<_>>()
                .join(", ")
        },
    );
    if input.report.is_none() {
        html.push_str("<p class=\"bad\">The health actor did not answer; live state unknown.</p>");
    }
    org_table(&mut html, input, owned);
    backfill_section(&mut html, input);
    services_section(&mut html, input.report);
    html.push_str(
        "<h2>Endpoints</h2><ul>\
         <li><a href=\"/metrics\">/metrics</a> shared series, identical on every replica</li>\
         <li><a href=\"/metrics/replica\">/metrics/replica</a> this process's own series</li>\
         <li><a href=\"/healthz\">/healthz</a> health JSON</li>\
         <li><a href=\"/readyz\">/readyz</a> readiness</li>\
         <li><a href=\"/livez\">/livez</a> liveness</li></ul></body></html>\n",
    );
    html
}

fn org_table(html: &mut String, input: &StatusInput<'_>, owned: &[String]) {
    html.push_str(
        "<h2>Organizations</h2><table id=\"orgs\"><thead><tr><th>org</th><th>scraped by</th>\
         <th>last successful scrape</th><th>cycle duration</th><th>cycles by result</th>\
         <th>activity series</th><th>rate budget (remaining, reset)</th><th>health</th>\
         <th>LOC mode (repos)</th></tr></thead><tbody>",
    );
    for org in input.orgs {
        let of = |name: &'static str| {
            input
                .shared
                .iter()
                .filter(move |s| s.name == name && s.label("org") == Some(org.as_str()))
        };
        let last_success = of("gh_exporter_last_successful_scrape_timestamp_seconds")
            .map(|s| s.value)
            .reduce(f64::max);
        let last_success = match last_success {
            Some(ts) => format!(
                "<span title=\"{abs}\">{rel}</span>",
                abs = escape(&absolute(ts)),
                rel = ago(input.now_unix - ts)
            ),
            None => "<span class=\"bad\">never</span>".to_string(),
        };
        let duration = of("gh_exporter_scrape_duration_seconds")
            .map(|s| seconds_text(s.value))
            .next()
            .unwrap_or_else(|| "&ndash;".into());
        let mut results = join_counts(
            of("gh_exporter_scrape_runs_total").filter_map(|s| Some((s.label("result")?, s.value))),
        );
        // The last cycle's own result, where this replica ran it.
        let last = input
            .report
            .and_then(|r| r.scrapes.get(org.as_str()))
            .and_then(|p| p.last_result);
        if let Some(last) = last {
            let class = if last == "success" { "ok" } else { "bad" };
            results = format!(
                "last: <span class=\"{class}\">{}</span><br>{results}",
                escape(last)
            );
        }
        let series = input
            .shared
            .iter()
            .filter(|s| s.name.starts_with("gh_activity_") && s.label("org") == Some(org.as_str()))
            .count();
        let remaining: BTreeMap<&str, f64> = of("gh_exporter_github_rate_limit_remaining")
            .filter_map(|s| Some((s.label("resource")?, s.value)))
            .collect();
        let resets: BTreeMap<&str, f64> =
            of("gh_exporter_github_rate_limit_reset_timestamp_seconds")
                .filter_map(|s| Some((s.label("resource")?, s.value)))
                .collect();
        let budget = if remaining.is_empty() {
            "&ndash;".to_string()
        } else {
            remaining
                .iter()
                .map(|(resource, left)| {
                    let reset = resets
                        .get(resource)
                        .map(|ts| format!(", resets {}", until(ts - input.now_unix)))
                        .unwrap_or_default();
                    format!("{}: {}{reset}", escape(resource), count(*left))
                })
                .collect::<Vec<_>>()
                .join("<br>")
        };
        let health = org_health(input, org);
        let mut modes: BTreeMap<&str, u32> = BTreeMap::new();
        for s in of("gh_exporter_loc_source_mode").filter(|s| s.value == 1.0) {
            if let Some(mode) = s.label("mode") {
                *modes.entry(mode).or_default() += 1;
            }
        }
        let mut loc = join_counts(modes.into_iter().map(|(m, n)| (m, f64::from(n))));
        let waiting = of("gh_exporter_loc_stats_waiting_repositories")
            .map(|s| s.value)
            .next()
            .unwrap_or(0.0);
        if waiting > 0.0 {
            let _ = write!(loc, "<br>{} waiting for GitHub's stats", count(waiting));
        }
        let owner = if owned.contains(org) {
            "<b>this replica</b>"
        } else {
            "<span class=\"muted\">another replica</span>"
        };
        let _ = write!(
            html,
            "<tr class=\"org\" data-org=\"{org_attr}\"><td><code>{org_text}</code></td><td>{owner}</td>\
             <td>{last_success}</td><td>{duration}</td><td>{results}</td><td>{series}</td>\
             <td>{budget}</td><td>{health}</td><td>{loc}</td></tr>",
            org_attr = escape(org),
            org_text = escape(org),
        );
    }
    html.push_str("</tbody></table>");
}

/// GitHub health of the org (from the served gauge) and, where it runs here, its scraper actor.
fn org_health(input: &StatusInput<'_>, org: &str) -> String {
    let github = input
        .shared
        .iter()
        .find(|s| s.name == "gh_exporter_github_org_healthy" && s.label("org") == Some(org))
        .map(|s| {
            if s.value == 1.0 {
                "<span class=\"ok\">GitHub healthy</span>"
            } else {
                "<span class=\"bad\">GitHub cooldown</span>"
            }
        })
        .unwrap_or("<span class=\"muted\">no cycle yet</span>");
    let scraper = input
        .report
        .and_then(|r| r.components.get(&format!("actor.scrape.{org}")))
        .map(|c| match &c.status {
            ComponentStatus::Up => String::new(),
            ComponentStatus::Starting => "<br>scraper starting".into(),
            ComponentStatus::Stopped => {
                "<br><span class=\"muted\">scraper stopped here</span>".into()
            }
            ComponentStatus::Down(reason) => {
                format!(
                    "<br><span class=\"bad\">scraper down: {}</span>",
                    escape(reason)
                )
            }
            ComponentStatus::Skipped(reason) => {
                format!("<br><span class=\"muted\">{}</span>", escape(reason))
            }
        })
        .unwrap_or_default();
    format!("{github}{scraper}")
}

fn backfill_section(html: &mut String, input: &StatusInput<'_>) {
    html.push_str("<h2>Backfill</h2>");
    match &input.queues {
        None => html.push_str("<p class=\"muted\">Backfill is disabled.</p>"),
        Some(Err(error)) => {
            let _ = write!(
                html,
                "<p class=\"bad\">Sampling the queue failed: {}</p>",
                escape(error)
            );
        }
        Some(Ok(queues)) => {
            html.push_str(
                "<table id=\"queues\"><thead><tr><th>queue</th><th>ready jobs</th>\
                 <th>oldest ready job</th></tr></thead><tbody>",
            );
            for q in queues {
                let _ = write!(
                    html,
                    "<tr><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
                    escape(&q.queue),
                    q.ready,
                    q.oldest_ready_age
                        .filter(|_| q.ready > 0)
                        .map(|a| ago(a.as_secs_f64()))
                        .unwrap_or_else(|| "&ndash;".into()),
                );
            }
            html.push_str("</tbody></table>");
        }
    }
    let dead = input
        .replica
        .iter()
        .filter(|s| s.name == "gh_exporter_backfill_dead_lettered_total");
    let mut by_org: BTreeMap<&str, f64> = BTreeMap::new();
    for s in dead {
        *by_org.entry(s.label("org").unwrap_or("?")).or_default() += s.value;
    }
    let total: f64 = by_org.values().sum();
    let _ = write!(
        html,
        "<p id=\"dead-letters\">Dead-lettered by this replica since start: <b>{total}</b>{detail}</p>",
        total = count(total),
        detail = if by_org.is_empty() {
            String::new()
        } else {
            format!(" ({})", join_counts(by_org.into_iter()))
        },
    );
}

fn services_section(html: &mut String, report: Option<&HealthReport>) {
    let Some(report) = report else { return };
    html.push_str("<h2>Periodic services</h2><ul>");
    for s in &report.services {
        let _ = write!(
            html,
            "<li>{}</li>",
            escape(&crate::health_view::service_line(s))
        );
    }
    html.push_str("</ul>");
}

/// A count as an integer: `3`, never `3.0` nor `-0` (an empty float sum is `-0.0`).
fn count(value: f64) -> String {
    if value.is_finite() {
        // `as` saturates; `+ 0.0` turns a negative zero into zero.
        ((value.round() + 0.0) as i64).to_string()
    } else {
        "&ndash;".into()
    }
}

/// `a 3, b 1` from label/value pairs (escaped), or a dash when empty.
fn join_counts<'a>(pairs: impl Iterator<Item = (&'a str, f64)>) -> String {
    let text: Vec<String> = pairs
        .map(|(label, n)| format!("{} {}", escape(label), count(n)))
        .collect();
    if text.is_empty() {
        "&ndash;".into()
    } else {
        text.join(", ")
    }
}

/// `850 ms` below a second, else `2.3 s`.
fn seconds_text(seconds: f64) -> String {
    if seconds < 1.0 {
        format!("{:.0} ms", seconds * 1000.0)
    } else {
        format!("{seconds:.1} s")
    }
}

fn ago(seconds: f64) -> String {
    format!("{} ago", human(seconds))
}

fn until(seconds: f64) -> String {
    if seconds <= 0.0 {
        "now".into()
    } else {
        format!("in {}", human(seconds))
    }
}

fn human(seconds: f64) -> String {
    let secs = seconds.max(0.0).round() as u64;
    humantime::format_duration(Duration::from_secs(secs)).to_string()
}

fn absolute(unix: f64) -> String {
    let at = UNIX_EPOCH + Duration::from_secs(unix.max(0.0) as u64);
    humantime::format_rfc3339_seconds(at).to_string()
}

/// Escapes text for HTML element content and double-quoted attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::samples::parse;
    use super::*;

    const SHARED: &str = "\
gh_activity_commits_24h{org=\"acme\",repo=\"r\",user=\"u\"} 2
gh_activity_commits_24h{org=\"acme\",repo=\"r\",user=\"v\"} 1
gh_activity_commits_24h{org=\"<b>evil</b>\",repo=\"r\",user=\"u\"} 1
gh_exporter_last_successful_scrape_timestamp_seconds{org=\"acme\"} 1000
gh_exporter_scrape_duration_seconds{org=\"acme\"} 2.25
gh_exporter_scrape_duration_seconds{org=\"quiet\"} 0.042
gh_exporter_scrape_runs_total{org=\"acme\",result=\"failure\"} 1
gh_exporter_scrape_runs_total{org=\"acme\",result=\"success\"} 4
gh_exporter_github_rate_limit_remaining{org=\"acme\",resource=\"core\"} 4990
gh_exporter_github_rate_limit_reset_timestamp_seconds{org=\"acme\",resource=\"core\"} 1600
gh_exporter_github_org_healthy{org=\"acme\"} 1
gh_exporter_loc_source_mode{mode=\"stats\",org=\"acme\",repo=\"r\"} 1
gh_exporter_loc_source_mode{mode=\"fallback\",org=\"acme\",repo=\"r\"} 0
gh_exporter_loc_source_mode{mode=\"stats\",org=\"acme\",repo=\"s\"} 1
";

    fn page(orgs: &[String], queues: Option<Result<Vec<QueueSample>, String>>) -> String {
        let shared = parse(SHARED, wanted_shared);
        let replica = parse(
            "gh_exporter_backfill_dead_lettered_total{org=\"acme\",reason=\"scrape_error\"} 3\n",
            wanted_replica,
        );
        render(&StatusInput {
            version: "1.2.3",
            now_unix: 1060.0,
            report: None,
            orgs,
            store_backend: "redis",
            queue_backend: "amqp",
            series_served: 42,
            shared: &shared,
            replica: &replica,
            queues,
        })
    }

    /// One row per configured org with its figures read back from the served series.
    #[test]
    fn one_row_per_org_with_its_figures() {
        let orgs = vec!["acme".to_string(), "quiet".to_string()];
        let html = page(
            &orgs,
            Some(Ok(vec![
                QueueSample {
                    queue: "jobs".into(),
                    ready: 5,
                    oldest_ready_age: Some(Duration::from_secs(90)),
                },
                QueueSample {
                    queue: "jobs.dlq".into(),
                    ready: 0,
                    oldest_ready_age: Some(Duration::ZERO),
                },
            ])),
        );
        assert_eq!(html.matches("<tr class=\"org\"").count(), 2, "{html}");
        let acme = &html
            [html.find("data-org=\"acme\"").unwrap()..html.find("data-org=\"quiet\"").unwrap()];
        for expected in [
            "1m ago",
            "2.2 s",
            "failure 1, success 4",
            "<td>2</td>",
            "core: 4990, resets in 9m",
            "GitHub healthy",
            "stats 2",
        ] {
            assert!(acme.contains(expected), "{expected:?} missing in {acme}");
        }
        let quiet = &html[html.find("data-org=\"quiet\"").unwrap()..];
        assert!(quiet.contains("never"), "{quiet}");
        assert!(quiet.contains("<td>42 ms</td>"), "{quiet}");
        assert!(html.contains("<td><code>jobs</code></td><td>5</td><td>1m 30s ago</td>"));
        assert!(html.contains("<td><code>jobs.dlq</code></td><td>0</td><td>&ndash;</td>"));
        assert!(html.contains("Dead-lettered by this replica since start: <b>3</b> (acme 3)"));
        assert!(!html.contains("<script"), "no scripts");
        assert!(
            !html.contains("src=") && !html.contains("<link"),
            "no external assets"
        );
    }

    /// Counts print as integers everywhere, and nothing dead-lettered prints `0`, not `-0`
    /// (the sum of no floats is a negative zero).
    #[test]
    fn counts_print_as_integers_never_negative_zero() {
        let shared = parse(SHARED, wanted_shared);
        let replica = parse("", wanted_replica);
        let html = render(&StatusInput {
            version: "1.2.3",
            now_unix: 1060.0,
            report: None,
            orgs: &["acme".to_string()],
            store_backend: "redis",
            queue_backend: "amqp",
            series_served: 42,
            shared: &shared,
            replica: &replica,
            queues: Some(Ok(Vec::new())),
        });
        assert!(
            html.contains("Dead-lettered by this replica since start: <b>0</b>"),
            "{html}"
        );
        assert!(
            !html.contains("<b>-0</b>") && !html.contains(".0</"),
            "{html}"
        );
        assert_eq!(count(-0.0), "0");
        assert_eq!(count(2.0), "2");
        assert_eq!(count(4990.4), "4990");
    }

    /// Names from outside are escaped in text and attributes.
    #[test]
    fn escapes_outside_text() {
        let orgs = vec!["<b>evil</b>".to_string()];
        let html = page(&orgs, Some(Err("bad <queue> & \"stuff\"".into())));
        assert!(!html.contains("<b>evil</b>"), "{html}");
        assert!(
            html.contains("data-org=\"&lt;b&gt;evil&lt;/b&gt;\""),
            "{html}"
        );
        assert!(
            html.contains("bad &lt;queue&gt; &amp; &quot;stuff&quot;"),
            "{html}"
        );
        // the org's single activity series is counted although its name needs escaping
        assert!(html.contains("<td>1</td>"), "{html}");
    }
}
