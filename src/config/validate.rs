//! Rules that relate several keys of the typed configuration: auth methods, org list, which
//! keys only apply together with others, orderings between values (backoffs, lease timings,
//! retention). A rule on one key alone is that key's constraint in the key table, already
//! checked when the key was read. Every rule adds to the problem list; none stops the others.
//! A rule that compares values skips a key that already has a problem: that value may be a
//! fallback default, and comparing it would only pile a derived complaint onto the first.

use std::path::Path;
use std::time::Duration;

use super::constraint::rsa_private_key;
use super::errors::Problems;
use super::keys::ORGS_PATH;
use super::types::*;

/// Runs every rule on `config`.
pub(crate) fn validate(config: &Config, problems: &mut Problems) {
    github(&config.github, problems);
    retry(&config.retry, problems);
    amqp(&config.amqp, problems);
    store(&config.store, problems);
    leader_election(config, problems);
    copilot(&config.copilot, problems);
    copilot_retention(config, problems);
    telemetry(&config.telemetry, problems);
}

/// Traces need somewhere to go: enabled without an endpoint (key or standard variable) is an
/// error rather than a silent default.
fn telemetry(t: &TelemetryConfig, p: &mut Problems) {
    let key = "telemetry.otel_exporter_otlp_endpoint";
    if t.otel_enabled && t.trace_mode != TraceMode::Off && t.endpoint.is_none() && !p.has_key(key) {
        p.push(
            key,
            "",
            "telemetry.otel_enabled is true but no OTLP endpoint is set (this key, \
             OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT)",
        );
    }
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

/// The in-flight budget holds at least one whole response; then the URL, org and auth rules.
fn github(g: &GithubConfig, p: &mut Problems) {
    let in_flight_key = "github.max_response_bytes_in_flight";
    if g.max_response_bytes_in_flight < g.max_response_bytes && !p.has_key(in_flight_key) {
        p.push(
            in_flight_key,
            g.max_response_bytes_in_flight.to_string(),
            "must be at least github.max_response_bytes",
        );
    }
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

/// At least one org, and no org twice.
fn orgs(g: &GithubConfig, p: &mut Problems) {
    if g.orgs.is_empty() && !p.0.iter().any(|x| x.key.starts_with(ORGS_PATH)) {
        p.push(ORGS_PATH, "", "at least one org is required");
    }
    let mut seen: Vec<String> = Vec::new();
    for (i, org) in g.orgs.iter().enumerate() {
        let key = format!("{ORGS_PATH}[{i}]");
        let folded = org.org.to_ascii_lowercase();
        if seen.contains(&folded) {
            p.push(
                format!("{key}.org"),
                &org.org,
                "duplicate org (GitHub logins are case-insensitive)",
            );
        }
        seen.push(folded);
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

/// The first backoff does not exceed the cap.
fn retry(t: &RetryConfig, p: &mut Problems) {
    if t.initial_backoff > t.max_backoff && !p.has_key("retry.initial_backoff") {
        p.push(
            "retry.initial_backoff",
            humantime::format_duration(t.initial_backoff).to_string(),
            "must not exceed retry.max_backoff",
        );
    }
}

/// Jobs and dead letters go to different queues; a CA file needs a TLS (`amqps`) URL.
fn amqp(a: &AmqpConfig, p: &mut Problems) {
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
    }
}

/// The Sentinel keys go with `store.redis_mode=sentinel`, a Sentinel user with its password,
/// and a CA file with a TLS (`rediss`) URL.
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
    }
}

/// Leader election: the lease timings, the Redis it needs, and the per-org options.
fn leader_election(c: &Config, p: &mut Problems) {
    let l = &c.leader_election;
    let shown = |d: Duration| humantime::format_duration(d).to_string();
    let retry_readable = !p.has_key("leader_election.retry_period");
    lease_timings(l, p);
    let redis = c.store.redis_url.is_some();
    if l.enabled && !redis {
        let reason = match l.backend {
            ElectionBackend::Redis => {
                "the redis backend needs store.redis_url (the lease is kept in Redis)"
            }
            ElectionBackend::Kubernetes => {
                "the kubernetes backend needs store.redis_url (Redis fences the lease holder's writes)"
            }
        };
        p.push("leader_election.enabled", "true", reason);
    }
    if l.backend == ElectionBackend::Kubernetes && !p.has_key("leader_election.lease_name") {
        // Lease names, per org `<lease_name>-<org>`: DNS-1123 subdomains of at most 253.
        let valid = !l.lease_name.is_empty()
            && l.lease_name.len() <= 200
            && l.lease_name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !l.lease_name.starts_with('-')
            && !l.lease_name.ends_with('-');
        if !valid {
            p.push(
                "leader_election.lease_name",
                &l.lease_name,
                "with the kubernetes backend it names Lease objects: lowercase letters, digits and `-`, at most 200 characters, starting and ending with a letter or digit",
            );
        }
    }
    if l.backend == ElectionBackend::Kubernetes
        && !p.has_key("leader_election.lease_duration")
        && (l.lease_duration.subsec_nanos() != 0 || l.lease_duration.as_secs() == 0)
    {
        p.push(
            "leader_election.lease_duration",
            shown(l.lease_duration),
            "with the kubernetes backend it is a Lease's leaseDurationSeconds: a whole number of seconds, at least 1s",
        );
    }
    if l.backend == ElectionBackend::Redis && l.namespace.is_some() {
        p.push(
            "leader_election.namespace",
            l.namespace.as_deref().unwrap_or_default(),
            "only applies to leader_election.backend=kubernetes",
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

/// `lease_duration > renew_deadline > 1.2 × retry_period`: a holder gets more than one
/// renewal try before its deadline, and gives up before the lease runs out under it. (That
/// both are above 0 is their constraint in the key table.)
fn lease_timings(l: &LeaderElectionConfig, p: &mut Problems) {
    let shown = |d: Duration| humantime::format_duration(d).to_string();
    let lease = "leader_election.lease_duration";
    let renew = "leader_election.renew_deadline";
    let retry = "leader_election.retry_period";
    // Values that could not be read (or break their constraint) are not compared.
    let lease_ok = !p.has_key(lease);
    let renew_ok = !p.has_key(renew);
    let retry_ok = !p.has_key(retry);
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

/// Copilot: a salt for hashed labels, and the enterprise settings that go together.
fn copilot(c: &CopilotConfig, p: &mut Problems) {
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
            rsa_private_key(p, "copilot.enterprise.private_key_path", path);
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
