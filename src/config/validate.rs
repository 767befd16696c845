//! Checks on the typed configuration: ranges, cross-key rules, auth, key files, and the
//! pending-feature rule (a key whose feature is not built yet must keep its default).
//! Every check adds to the problem list; none stops the others.

use std::path::Path;
use std::time::Duration;

use config::{Map, Value, ValueKind};
use secrecy::ExposeSecret;

use super::errors::Problems;
use super::extract::{self, lookup, shown, with_origin};
use super::keys::{self, DefaultValue, KeyDef, Kind, FILE_SUFFIX, ORGS_PATH};
use super::layers::default_value;
use super::parse;
use super::types::*;

const SECOND: Duration = Duration::from_secs(1);
const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(24 * 3600);

/// Runs every check on `config`; `root` is the merged tree, needed to tell "left at the default"
/// from "set" for the pending-feature rule.
pub(crate) fn validate(config: &Config, root: &Map<String, Value>, problems: &mut Problems) {
    server(&config.server, problems);
    github(&config.github, problems);
    rate_limit_and_retry(config, problems);
    loc(&config.loc, problems);
    backfill(&config.backfill, problems);
    amqp(&config.amqp, problems);
    store(&config.store, problems);
    leader_election(config, problems);
    copilot(&config.copilot, problems);
    copilot_retention(config, problems);
    pending(root, problems);
}

/// Copilot series are rewritten once per `copilot.scrape_interval`; a store retention shorter
/// than that would expire them between runs.
fn copilot_retention(config: &Config, p: &mut Problems) {
    let shown = |d: Duration| humantime::format_duration(d).to_string();
    let c = &config.copilot;
    if c.enabled
        && c.scrape_interval >= config.store.retention
        && !p.has_key("copilot.scrape_interval")
        && !p.has_key("store.retention")
    {
        p.push(
            "copilot.scrape_interval",
            shown(c.scrape_interval),
            format!(
                "must be shorter than store.retention ({}), or the Copilot series expire \
                 between runs",
                shown(config.store.retention)
            ),
        );
    }
}

/// Adds a problem unless `value` lies in `min..=max`; skipped when the key already has one.
pub(crate) fn check_duration(
    problems: &mut Problems,
    key: &str,
    value: Duration,
    (min, max): (Duration, Duration),
) {
    if problems.has_key(key) || (min..=max).contains(&value) {
        return;
    }
    problems.push(
        key,
        humantime::format_duration(value).to_string(),
        format!(
            "must be between {} and {}",
            humantime::format_duration(min),
            humantime::format_duration(max)
        ),
    );
}

fn check_count(problems: &mut Problems, key: &str, value: u64, min: u64, max: u64) {
    if problems.has_key(key) || (min..=max).contains(&value) {
        return;
    }
    problems.push(
        key,
        value.to_string(),
        format!("must be between {min} and {max}"),
    );
}

fn check_not_blank(problems: &mut Problems, key: &str, value: &str) {
    if value.trim().is_empty() && !problems.has_key(key) {
        problems.push(key, value, "must not be empty");
    }
}

fn server(s: &ServerConfig, p: &mut Problems) {
    check_duration(
        p,
        "server.shutdown_timeout",
        s.shutdown_timeout,
        (SECOND, 10 * MINUTE),
    );
}

fn github(g: &GithubConfig, p: &mut Problems) {
    check_duration(
        p,
        "github.request_timeout",
        g.request_timeout,
        (SECOND, 10 * MINUTE),
    );
    let threshold = u64::from(g.unhealthy_failure_threshold);
    check_count(p, "github.unhealthy_failure_threshold", threshold, 1, 1000);
    check_duration(
        p,
        "github.unhealthy_cooldown",
        g.unhealthy_cooldown,
        (SECOND, DAY),
    );
    let recover = u64::from(g.recover_success_threshold);
    check_count(p, "github.recover_success_threshold", recover, 1, 1000);
    check_duration(
        p,
        "github.scrape_interval",
        g.scrape_interval,
        extract::SCRAPE_INTERVAL_RANGE,
    );
    check_count(
        p,
        "github.max_response_bytes",
        g.max_response_bytes,
        64 * 1024,
        1 << 32,
    );
    let in_flight_key = "github.max_response_bytes_in_flight";
    check_count(
        p,
        in_flight_key,
        g.max_response_bytes_in_flight,
        64 * 1024,
        1 << 34,
    );
    if g.max_response_bytes_in_flight < g.max_response_bytes && !p.has_key(in_flight_key) {
        p.push(
            in_flight_key,
            g.max_response_bytes_in_flight.to_string(),
            "must be at least github.max_response_bytes",
        );
    }
    let pages = u64::from(g.max_pages_per_listing);
    check_count(p, "github.max_pages_per_listing", pages, 1, 100_000);
    insecure_http(g, p);
    orgs(g, p);
    auth(g, p);
}

/// A credential must not travel in clear text to another machine: plain `http://` is refused
/// for a host that is not loopback unless `github.allow_insecure_http` says otherwise.
fn insecure_http(g: &GithubConfig, p: &mut Problems) {
    let key = "github.api_base_url";
    if g.api_base_url.scheme() != "http" || g.allow_insecure_http || p.has_key(key) {
        return;
    }
    if !is_loopback(&g.api_base_url) {
        p.push(
            key,
            super::errors::redact_url_password(g.api_base_url.as_str()),
            "plain http would send the GitHub credential unencrypted to a host that is not \
             loopback; use https, or set github.allow_insecure_http = true",
        );
    }
}

/// `localhost`, `127.0.0.0/8` or `::1`.
fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => {
            let d = d.trim_end_matches('.');
            d.eq_ignore_ascii_case("localhost") || d.to_ascii_lowercase().ends_with(".localhost")
        }
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

fn orgs(g: &GithubConfig, p: &mut Problems) {
    if g.orgs.is_empty() && !p.0.iter().any(|x| x.key.starts_with(ORGS_PATH)) {
        p.push(ORGS_PATH, "", "at least one org is required");
    }
    let mut seen: Vec<String> = Vec::new();
    for (i, org) in g.orgs.iter().enumerate() {
        let key = format!("{ORGS_PATH}[{i}]");
        let valid_name = !org.org.is_empty()
            && org
                .org
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !valid_name {
            p.push(
                format!("{key}.org"),
                &org.org,
                "not a GitHub login (letters, digits, `-`, `_`, `.`)",
            );
        }
        let folded = org.org.to_ascii_lowercase();
        if seen.contains(&folded) {
            p.push(
                format!("{key}.org"),
                &org.org,
                "duplicate org (GitHub logins are case-insensitive)",
            );
        }
        seen.push(folded);
        let concurrency = u64::from(org.per_org_concurrency);
        check_count(p, &format!("{key}.per_org_concurrency"), concurrency, 1, 64);
        if org.repo_allowlist.is_empty() && !p.has_key(&format!("{key}.repo_allowlist")) {
            p.push(
                format!("{key}.repo_allowlist"),
                "",
                "an empty allowlist matches no repository; use * for all",
            );
        }
        if let Some(path) = &org.private_key_path {
            private_key(p, &format!("{key}.private_key_path"), path);
        }
    }
}

/// Exactly one auth method: a token, or an App (`app_id` + `private_key_path`). Orgs may bring
/// their own; an org with neither its own nor the top-level credentials is reported.
fn auth(g: &GithubConfig, p: &mut Problems) {
    let has_app = g.app_id.is_some() || g.private_key_path.is_some();
    if g.token.is_some() && has_app {
        p.push(
            "github.token",
            super::errors::REDACTED,
            "set either github.token or github.app_id + github.private_key_path, not both",
        );
    }
    if g.app_id.is_some() && g.private_key_path.is_none() {
        let app_id = g.app_id.map(|id| id.to_string()).unwrap_or_default();
        p.push("github.app_id", app_id, "needs github.private_key_path");
    }
    if g.private_key_path.is_some() && g.app_id.is_none() {
        let path = g.private_key_path.as_deref().unwrap_or(Path::new(""));
        p.push(
            "github.private_key_path",
            path.display().to_string(),
            "needs github.app_id",
        );
    }
    if g.installation_id.is_some() && g.app_id.is_none() {
        let id = g
            .installation_id
            .map(|id| id.to_string())
            .unwrap_or_default();
        p.push("github.installation_id", id, "only used with github.app_id");
    }
    if let Some(path) = &g.private_key_path {
        private_key(p, "github.private_key_path", path);
    }
    if let Some(token) = &g.token {
        if token.expose_secret().chars().any(char::is_whitespace) {
            p.push(
                "github.token",
                super::errors::REDACTED,
                "contains whitespace",
            );
        }
    }
    let top_level = g.token.is_some() || (g.app_id.is_some() && g.private_key_path.is_some());
    let uncovered = g.orgs.iter().any(|org| {
        let own_app = org.app_id.or(g.app_id).is_some()
            && org
                .private_key_path
                .as_ref()
                .or(g.private_key_path.as_ref())
                .is_some();
        org.token.is_none() && !own_app
    });
    // Partial App auth and unreadable token files are reported above; no second complaint.
    let reported = has_app || p.0.iter().any(|x| x.key.starts_with("github.token"));
    if !top_level && uncovered && !reported {
        p.push(
            "github.token",
            "",
            "no GitHub credentials: set github.token (or github.token_file), \
             or github.app_id with github.private_key_path",
        );
    }
}

/// The key must be a readable PEM RSA private key (PKCS#1, or PKCS#8 with the RSA algorithm).
/// This checks the envelope and algorithm only; the JWT signer parses the key fully.
fn private_key(p: &mut Problems, key: &str, path: &Path) {
    let shown = path.display().to_string();
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) => {
            p.push(key, shown, format!("cannot read private key: {error}"));
            return;
        }
    };
    let reason = match pem::parse(&bytes) {
        Err(error) => Some(format!("not a PEM file: {error}")),
        Ok(block) if block.tag() == "RSA PRIVATE KEY" => {
            (block.contents().first() != Some(&0x30)).then(|| "malformed RSA key".to_string())
        }
        Ok(block) if block.tag() == "PRIVATE KEY" => {
            /// DER of the rsaEncryption OID (1.2.840.113549.1.1.1).
            const RSA_OID: &[u8] = &[
                0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
            ];
            let is_rsa = block
                .contents()
                .windows(RSA_OID.len())
                .any(|w| w == RSA_OID);
            (!is_rsa).then(|| "a PKCS#8 key, but not an RSA one".to_string())
        }
        Ok(block) => Some(format!(
            "PEM block is `{}`, expected an RSA PRIVATE KEY",
            block.tag()
        )),
    };
    if let Some(reason) = reason {
        p.push(key, shown, reason);
    }
}

fn rate_limit_and_retry(c: &Config, p: &mut Problems) {
    let r = &c.rate_limit;
    let threshold = u64::from(r.min_remaining_threshold);
    check_count(
        p,
        "rate_limit.min_remaining_threshold",
        threshold,
        0,
        15_000,
    );
    check_duration(
        p,
        "rate_limit.min_reset_buffer",
        r.min_reset_buffer,
        (Duration::ZERO, HOUR),
    );
    check_count(
        p,
        "rate_limit.requests_per_minute",
        u64::from(r.requests_per_minute),
        0,
        100_000,
    );
    let backoff = r.secondary_limit_backoff;
    check_duration(
        p,
        "rate_limit.secondary_limit_backoff",
        backoff,
        (SECOND, HOUR),
    );

    let t = &c.retry;
    check_count(p, "retry.max_attempts", u64::from(t.max_attempts), 1, 100);
    let ms = Duration::from_millis(1);
    check_duration(p, "retry.initial_backoff", t.initial_backoff, (ms, HOUR));
    check_duration(p, "retry.max_backoff", t.max_backoff, (ms, HOUR));
    if t.initial_backoff > t.max_backoff && !p.has_key("retry.initial_backoff") {
        p.push(
            "retry.initial_backoff",
            humantime::format_duration(t.initial_backoff).to_string(),
            "must not exceed retry.max_backoff",
        );
    }
}

fn loc(l: &LocConfig, p: &mut Problems) {
    check_duration(
        p,
        "loc.refresh_interval",
        l.refresh_interval,
        (MINUTE, 30 * DAY),
    );
    let polls = u64::from(l.stats_poll_attempts);
    check_count(p, "loc.stats_poll_attempts", polls, 1, 20);
    let commits = u64::from(l.fallback_max_commits_per_repo_per_week);
    check_count(
        p,
        "loc.fallback_max_commits_per_repo_per_week",
        commits,
        1,
        100_000,
    );
    let calls = u64::from(l.fallback_max_commit_detail_calls_per_org_per_hour);
    let key = "loc.fallback_max_commit_detail_calls_per_org_per_hour";
    check_count(p, key, calls, 1, 1_000_000);
    let windows = u64::from(l.large_repo_zero_detection_windows);
    check_count(p, "loc.large_repo_zero_detection_windows", windows, 1, 100);
    check_duration(
        p,
        "loc.large_repo_cooldown",
        l.large_repo_cooldown,
        (HOUR, 365 * DAY),
    );
}

fn backfill(b: &BackfillConfig, p: &mut Problems) {
    check_count(
        p,
        "backfill.max_attempts",
        u64::from(b.max_attempts),
        1,
        100,
    );
    check_duration(
        p,
        "backfill.max_message_age",
        b.max_message_age,
        (MINUTE, 30 * DAY),
    );
    check_count(
        p,
        "backfill.consumer_count",
        u64::from(b.consumer_count),
        1,
        64,
    );
    check_count(p, "backfill.prefetch", u64::from(b.prefetch), 1, 1000);
    let key = "backfill.requeue_delays";
    if !p.has_key(key) {
        let shown = b
            .requeue_delays
            .iter()
            .map(|d| humantime::format_duration(*d).to_string())
            .collect::<Vec<_>>()
            .join(",");
        if b.requeue_delays.is_empty() {
            p.push(key, shown, "at least one delay is required");
        } else if b.requeue_delays.windows(2).any(|w| w[0] >= w[1]) {
            p.push(key, shown, "delays must be strictly increasing");
        } else if b
            .requeue_delays
            .iter()
            .any(|d| !(SECOND..=7 * DAY).contains(d))
        {
            p.push(key, shown, "each delay must be between 1s and 7days");
        }
    }
    check_duration(
        p,
        "backfill.coalesce_window",
        b.coalesce_window,
        (Duration::ZERO, DAY),
    );
    check_duration(
        p,
        "backfill.dedup_ttl",
        b.dedup_ttl,
        (Duration::ZERO, 7 * DAY),
    );
    let cap = u64::from(b.max_enqueues_per_org_per_minute);
    check_count(
        p,
        "backfill.max_enqueues_per_org_per_minute",
        cap,
        1,
        100_000,
    );
    check_count(
        p,
        "backfill.memory_queue_capacity",
        u64::from(b.memory_queue_capacity),
        1,
        10_000_000,
    );
    check_count(
        p,
        "backfill.buffer_capacity",
        u64::from(b.buffer_capacity),
        1,
        1_000_000,
    );
}

fn amqp(a: &AmqpConfig, p: &mut Problems) {
    check_not_blank(p, "amqp.exchange", &a.exchange);
    check_not_blank(p, "amqp.queue", &a.queue);
    check_not_blank(p, "amqp.dlq", &a.dlq);
    if a.queue == a.dlq && !a.queue.is_empty() {
        p.push("amqp.dlq", &a.dlq, "must differ from amqp.queue");
    }
    if let Some(path) = &a.tls_ca_file {
        if a.url.as_ref().map(SecretUrl::scheme) != Some("amqps") {
            p.push(
                "amqp.tls_ca_file",
                path.display().to_string(),
                "only used with an amqps:// amqp.url",
            );
        }
        ca_bundle(p, "amqp.tls_ca_file", path);
    }
}

/// The file must be a readable PEM bundle of at least one certificate (a CA file for TLS).
fn ca_bundle(p: &mut Problems, key: &str, path: &Path) {
    let shown = path.display().to_string();
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) => {
            p.push(key, shown, format!("cannot read CA file: {error}"));
            return;
        }
    };
    match pem::parse_many(&bytes) {
        Err(error) => p.push(key, shown, format!("not a PEM file: {error}")),
        Ok(blocks) if !blocks.iter().any(|b| b.tag() == "CERTIFICATE") => {
            p.push(key, shown, "holds no PEM CERTIFICATE block");
        }
        Ok(_) => {}
    }
}

fn store(s: &StoreConfig, p: &mut Problems) {
    match s.redis_mode {
        RedisMode::Sentinel => {
            if s.redis_sentinel_addrs.is_empty() {
                p.push(
                    "store.redis_sentinel_addrs",
                    "",
                    "required when store.redis_mode=sentinel",
                );
            }
            if s.redis_master_set.is_none() {
                p.push(
                    "store.redis_master_set",
                    "",
                    "required when store.redis_mode=sentinel",
                );
            }
        }
        RedisMode::Standalone => {
            if !s.redis_sentinel_addrs.is_empty() {
                p.push(
                    "store.redis_sentinel_addrs",
                    s.redis_sentinel_addrs.join(","),
                    "only used when store.redis_mode=sentinel",
                );
            }
            if let Some(set) = &s.redis_master_set {
                p.push(
                    "store.redis_master_set",
                    set,
                    "only used when store.redis_mode=sentinel",
                );
            }
            if let Some(user) = &s.redis_sentinel_username {
                p.push(
                    "store.redis_sentinel_username",
                    user,
                    "only used when store.redis_mode=sentinel",
                );
            }
            if s.redis_sentinel_password.is_some() {
                p.push(
                    "store.redis_sentinel_password",
                    super::errors::REDACTED,
                    "only used when store.redis_mode=sentinel",
                );
            }
        }
    }
    for (i, addr) in s.redis_sentinel_addrs.iter().enumerate() {
        let valid = addr
            .rsplit_once(':')
            .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
        if !valid {
            p.push(
                format!("store.redis_sentinel_addrs[{i}]"),
                addr,
                "expected host:port",
            );
        }
    }
    if s.redis_sentinel_username.is_some() && s.redis_sentinel_password.is_none() {
        p.push(
            "store.redis_sentinel_username",
            s.redis_sentinel_username.as_deref().unwrap_or_default(),
            "needs store.redis_sentinel_password",
        );
    }
    if let Some(path) = &s.redis_tls_ca_file {
        if s.redis_url.as_ref().map(SecretUrl::scheme) != Some("rediss") {
            p.push(
                "store.redis_tls_ca_file",
                path.display().to_string(),
                "only used with a rediss:// store.redis_url",
            );
        }
        ca_bundle(p, "store.redis_tls_ca_file", path);
    }
    check_not_blank(p, "store.namespace", &s.namespace);
    check_duration(p, "store.retention", s.retention, (HOUR, 365 * DAY));
    let refresh = s.metric_refresh_interval;
    check_duration(p, "store.metric_refresh_interval", refresh, (SECOND, HOUR));
    check_count(
        p,
        "store.max_series_budget",
        s.max_series_budget,
        1,
        1_000_000_000,
    );
}

/// Leader election: the lease timings, the Redis it needs, and the per-org options.
fn leader_election(c: &Config, p: &mut Problems) {
    let l = &c.leader_election;
    let shown = |d: Duration| humantime::format_duration(d).to_string();
    let lease_name = "leader_election.lease_name";
    check_not_blank(p, lease_name, &l.lease_name);
    if !l.lease_name.trim().is_empty() && l.lease_name.chars().any(char::is_whitespace) {
        p.push(
            lease_name,
            &l.lease_name,
            "must not contain whitespace (it names the lease key in Redis)",
        );
    }
    check_not_blank(p, "leader_election.identity", &l.identity);
    check_duration(
        p,
        "leader_election.lease_duration",
        l.lease_duration,
        (SECOND, 10 * MINUTE),
    );
    let retry_readable = !p.has_key("leader_election.retry_period") && !l.retry_period.is_zero();
    lease_timings(l, p);
    let redis = c.store.redis_url.is_some();
    if l.enabled && !redis {
        p.push(
            "leader_election.enabled",
            "true",
            "the redis backend needs store.redis_url (the lease is kept in Redis)",
        );
    }
    if l.enabled && l.static_role != StaticRole::Leader {
        p.push(
            "leader_election.static_role",
            l.static_role.as_str(),
            "only applies when leader_election.enabled=false",
        );
    }
    if !l.enabled && l.static_role == StaticRole::Follower && !redis {
        p.push(
            "leader_election.static_role",
            l.static_role.as_str(),
            "a follower only serves what a leader writes to the shared store; \
             set store.redis_url (without it this replica would serve nothing)",
        );
    }
    if l.mode == ElectionMode::PerOrg && !l.enabled {
        p.push(
            "leader_election.mode",
            l.mode.as_str(),
            "needs leader_election.enabled=true (each org's holder is elected through Redis)",
        );
    }
    if l.max_orgs_per_replica > 0 && l.mode != ElectionMode::PerOrg {
        p.push(
            "leader_election.max_orgs_per_replica",
            l.max_orgs_per_replica.to_string(),
            "only applies when leader_election.mode=per_org (0 = no cap)",
        );
    }
    let rebalance = "leader_election.rebalance_delay";
    check_duration(p, rebalance, l.rebalance_delay, (Duration::ZERO, HOUR));
    if retry_readable && !p.has_key(rebalance) && l.rebalance_delay < l.retry_period {
        p.push(
            rebalance,
            shown(l.rebalance_delay),
            format!(
                "must be at least leader_election.retry_period ({}): shorter, orgs would \
                 move before the live replicas have renewed their leases once",
                shown(l.retry_period)
            ),
        );
    }
}

/// `lease_duration > renew_deadline > 1.2 × retry_period > 0`: a holder gets more than one
/// renewal try before its deadline, and gives up before the lease runs out under it.
fn lease_timings(l: &LeaderElectionConfig, p: &mut Problems) {
    let shown = |d: Duration| humantime::format_duration(d).to_string();
    let lease = "leader_election.lease_duration";
    let renew = "leader_election.renew_deadline";
    let retry = "leader_election.retry_period";
    // Values that could not be read (or are out of range) are not compared with the others.
    let lease_ok = !p.has_key(lease);
    let renew_ok = !p.has_key(renew) && !l.renew_deadline.is_zero();
    let retry_ok = !p.has_key(retry) && !l.retry_period.is_zero();
    if !p.has_key(retry) && l.retry_period.is_zero() {
        p.push(retry, shown(l.retry_period), "must be above 0");
    }
    if !p.has_key(renew) && l.renew_deadline.is_zero() {
        p.push(renew, shown(l.renew_deadline), "must be above 0");
    }
    if lease_ok && renew_ok && l.renew_deadline >= l.lease_duration {
        p.push(
            renew,
            shown(l.renew_deadline),
            format!(
                "must be below leader_election.lease_duration ({}): a holder must give up \
                 before its lease expires",
                shown(l.lease_duration)
            ),
        );
    }
    // renew_deadline > 1.2 × retry_period, in whole nanoseconds: 5 × renew > 6 × retry.
    let tries_fit = l.renew_deadline.as_nanos() * 5 > l.retry_period.as_nanos() * 6;
    if renew_ok && retry_ok && !tries_fit {
        p.push(
            retry,
            shown(l.retry_period),
            format!(
                "too long for leader_election.renew_deadline ({}), which must exceed \
                 1.2 × retry_period = {}: a holder needs more than one renewal try before \
                 its deadline",
                shown(l.renew_deadline),
                shown(l.retry_period.mul_f64(1.2))
            ),
        );
    }
}

fn copilot(c: &CopilotConfig, p: &mut Problems) {
    check_duration(
        p,
        "copilot.scrape_interval",
        c.scrape_interval,
        (MINUTE, 7 * DAY),
    );
    check_duration(
        p,
        "copilot.request_timeout",
        c.request_timeout,
        (SECOND, HOUR),
    );
    check_duration(
        p,
        "copilot.download_timeout",
        c.download_timeout,
        (SECOND, HOUR),
    );
    if c.user_label_mode == UserLabelMode::Hashed
        && c.user_label_salt.is_none()
        && !p.has_key("copilot.user_label_salt")
    {
        p.push(
            "copilot.user_label_salt",
            "",
            "required when copilot.user_label_mode=hashed (an unsalted hash of a login is \
             reversible by hashing every known login)",
        );
    }
    if let Some(salt) = &c.user_label_salt {
        if salt.expose_secret().is_empty() {
            p.push("copilot.user_label_salt", "", "must not be empty");
        }
    }
    if c.max_label_values == 0 || c.max_label_values > 10_000 {
        p.push(
            "copilot.max_label_values",
            c.max_label_values.to_string(),
            "must be between 1 and 10000",
        );
    }
    let e = &c.enterprise;
    if e.enabled {
        let missing = [
            ("copilot.enterprise.slug", e.slug.is_none()),
            ("copilot.enterprise.app_id", e.app_id.is_none()),
            (
                "copilot.enterprise.installation_id",
                e.installation_id.is_none(),
            ),
            (
                "copilot.enterprise.private_key_path",
                e.private_key_path.is_none(),
            ),
        ];
        for (key, is_missing) in missing {
            if is_missing && !p.has_key(key) {
                p.push(key, "", "required when copilot.enterprise.enabled=true");
            }
        }
        if let Some(path) = &e.private_key_path {
            private_key(p, "copilot.enterprise.private_key_path", path);
        }
    } else {
        let needs_enterprise = [
            ("copilot.include_enterprise_28d", c.include_enterprise_28d),
            (
                "copilot.include_enterprise_users_28d",
                c.include_enterprise_users_28d,
            ),
        ];
        for (key, on) in needs_enterprise {
            if on {
                p.push(key, "true", "needs copilot.enterprise.enabled=true");
            }
        }
    }
}

/// Every pending key (see `keys::PENDING`) left at its default passes; any other value is an
/// error naming the feature it waits for.
fn pending(root: &Map<String, Value>, p: &mut Problems) {
    for def in keys::KEYS {
        let Some(feature) = keys::pending_feature(def.path) else {
            continue;
        };
        if let Some(value) = lookup(root, def.path) {
            pending_value(p, def.path, def, value, feature);
        }
        if def.secret {
            let file_key = format!("{}{FILE_SUFFIX}", def.path);
            if let Some(value) = lookup(root, &file_key).filter(|v| !extract::show(v).is_empty()) {
                reject(p, &file_key, extract::show(value), value, feature);
            }
        }
    }
    let Some(ValueKind::Array(orgs)) = lookup(root, ORGS_PATH).map(|v| &v.kind) else {
        return;
    };
    for (index, org) in orgs.iter().enumerate() {
        let ValueKind::Table(entry) = &org.kind else {
            continue;
        };
        let mut names: Vec<&String> = entry.keys().collect();
        names.sort();
        for name in names {
            let value = &entry[name];
            let key = format!("{ORGS_PATH}[{index}].{name}");
            let (field, is_file) = match name.strip_suffix(FILE_SUFFIX) {
                Some(base) if keys::find_org(name).is_none() => (base, true),
                _ => (name.as_str(), false),
            };
            let Some(def) = keys::find_org(field) else {
                continue;
            };
            let Some(feature) = keys::pending_feature(&format!("{ORGS_PATH}[].{field}")) else {
                continue;
            };
            if is_file {
                reject(p, &key, extract::show(value), value, feature);
            } else {
                pending_value(p, &key, def, value, feature);
            }
        }
    }
}

fn pending_value(p: &mut Problems, key: &str, def: &KeyDef, value: &Value, feature: &str) {
    if p.has_key(key) || is_default(def, value) {
        return;
    }
    reject(p, key, shown(key, value, def.secret), value, feature);
}

fn reject(p: &mut Problems, key: &str, shown_value: String, value: &Value, feature: &str) {
    let reason = format!("`{key}` is not supported yet (arrives with {feature})");
    p.push(key, shown_value, with_origin(reason, value));
}

/// Whether `value` means the same as the built-in default (`5m` equals `300s`).
fn is_default(def: &KeyDef, value: &Value) -> bool {
    let Some(default) = default_value(def.kind, def.default) else {
        return extract::show(value).is_empty();
    };
    if matches!(def.default, DefaultValue::Unset) {
        return false;
    }
    match def.kind {
        Kind::Text => parse::text(value).ok() == parse::text(&default).ok(),
        Kind::Bool => parse::boolean(value).ok() == parse::boolean(&default).ok(),
        Kind::Int => parse::uint(value).ok() == parse::uint(&default).ok(),
        Kind::Duration => parse::duration(value).ok() == parse::duration(&default).ok(),
        Kind::TextList => parse::text_list(value).ok() == parse::text_list(&default).ok(),
        Kind::DurationList => {
            parse::duration_list(value).ok() == parse::duration_list(&default).ok()
        }
    }
}
