//! The mapping of the Go-era `amqp`, `store` and `leader_election` sections. Secrets (the
//! Redis password, credentials in the AMQP URL) are written as `_file` indirections unless the
//! caller asked for them inline, so the output never holds a password by default.

use std::time::Duration;

use url::Url;

use super::convert::{count_in, duration_in, shown};
use super::go_file::GoFile;
use super::output::{ChangeKind::*, Out, Val};
use super::Options;

const SECOND: Duration = Duration::from_secs(1);
const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(86_400);

/// Where `_file` indirections point: the Secret mounted by `deploy/kubernetes`.
pub(crate) const SECRETS_DIR: &str = "/run/secrets/github-stats-exporter";

/// `amqp`: RabbitMQ only when both the URL and the exchange are set, as before.
pub(crate) fn amqp(f: &mut GoFile, o: &mut Out, options: Options) {
    let url = f.secret("amqp.url");
    let exchange = f.text("amqp.exchange");
    let queue = f.text("amqp.queue");
    let dlq = f.text("amqp.dlq");
    let (Some(url), Some(exchange)) = (url, exchange) else {
        if f.has("amqp.url") || f.has("amqp.exchange") {
            o.note(
                Default,
                "amqp: url and exchange are not both set, so jobs stayed in memory; amqp is \
                 not written (the in-memory queue holds backfill.memory_queue_capacity jobs)",
            );
        }
        return;
    };
    let parsed = match Url::parse(&url) {
        Ok(parsed) if matches!(parsed.scheme(), "amqp" | "amqps") => parsed,
        _ => {
            f.problems.push(
                "`amqp.url`: not an amqp:// or amqps:// URL (value not shown: it may hold a \
                 password)"
                    .into(),
            );
            return;
        }
    };
    let has_credentials = !parsed.username().is_empty() || parsed.password().is_some();
    if has_credentials && !options.include_secrets {
        let file = format!("{SECRETS_DIR}/amqp-url");
        o.set("amqp.url_file", Val::Text(file.clone()));
        o.note(
            Secret,
            format!(
                "amqp.url holds credentials: not written here. Put the URL in {file}, or set \
                 GITHUB_STATS_AMQP__URL_FILE to another file (or GITHUB_STATS_AMQP__URL with \
                 amqp.url_file removed); --include-secrets writes it inline"
            ),
        );
    } else {
        o.set("amqp.url", Val::Text(url));
    }
    o.set("amqp.exchange", Val::Text(exchange));
    o.set(
        "amqp.queue",
        Val::Text(queue.unwrap_or_else(|| "gh.backfill.jobs".into())),
    );
    match dlq {
        Some(dlq) => o.set("amqp.dlq", Val::Text(dlq)),
        None => o.note(
            Default,
            "amqp.dlq: unset dropped exhausted jobs; they now go to gh.backfill.dlq",
        ),
    }
    o.note(
        Behaviour,
        "amqp.url is spoken to over AMQP 0-9-1 on its own port (5672, amqps 5671), not the \
         management API on 15672: allow that port in network policies; queue names and job \
         bodies are kept, so jobs already queued are processed",
    );
    if let Some(port) = parsed.port().filter(|p| *p != 5672 && *p != 5671) {
        o.note(
            Behaviour,
            format!(
                "amqp.url names port {port}: the management API was reached on that port; \
                 check that it is the AMQP port"
            ),
        );
    }
}

/// `store`: the Redis URL from address, database and password; Sentinel; sizes.
pub(crate) fn store(f: &mut GoFile, o: &mut Out, options: Options) {
    let backend = f.text("store.backend").unwrap_or_else(|| "redis".into());
    let mode = f
        .text("store.redis_mode")
        .unwrap_or_else(|| "standalone".into());
    let addr = f.text("store.redis_addr");
    let master = f.text("store.redis_master_set");
    let sentinels = f.list("store.redis_sentinel_addrs").unwrap_or_default();
    let password = f.secret("store.redis_password");
    let db = f.int("store.redis_db").unwrap_or(0);
    if backend.eq_ignore_ascii_case("redis") {
        redis(f, o, options, &mode, addr, master, sentinels, password, db);
    } else {
        o.note(
            Default,
            format!(
                "store.backend = {backend} meant the in-memory store: store.redis_url is not \
                 written, and the store.redis_* keys are unused"
            ),
        );
    }
    let retention = duration_in(
        f,
        o,
        "store.retention",
        "store.retention",
        DAY,
        (HOUR, 365 * DAY),
    );
    if retention != 30 * DAY {
        o.note(
            Default,
            format!(
                "store.retention: {} (this exporter's default is 30d)",
                shown(retention)
            ),
        );
    }
    duration_in(
        f,
        o,
        "store.metric_refresh_interval",
        "store.metric_refresh_interval",
        30 * SECOND,
        (SECOND, HOUR),
    );
    count_in(
        f,
        o,
        "store.max_series_budget",
        "store.max_series_budget",
        1_000_000,
        (1, 1_000_000_000),
    );
    if f.int("store.index_shards").is_some() {
        o.note(
            Dropped,
            "store.index_shards: there is no sharded series index to size (an org's series \
             are written and read as one batch)",
        );
    }
    if f.text("store.export_cache_mode").is_some() {
        o.note(
            Dropped,
            "store.export_cache_mode: /metrics is served from a body rendered once per store \
             change; there is no full or incremental cache to choose",
        );
    }
}

#[allow(clippy::too_many_arguments)]
fn redis(
    f: &mut GoFile,
    o: &mut Out,
    options: Options,
    mode: &str,
    addr: Option<String>,
    master: Option<String>,
    sentinels: Vec<String>,
    password: Option<String>,
    db: i64,
) {
    let sentinel = match mode {
        "standalone" => false,
        "sentinel" => true,
        other => {
            f.problems.push(format!(
                "`store.redis_mode`: `{other}` is not standalone or sentinel"
            ));
            return;
        }
    };
    if db < 0 {
        f.problems
            .push(format!("`store.redis_db`: {db} is not a database number"));
        return;
    }
    let host = if sentinel {
        "unused".to_string()
    } else {
        addr.clone().unwrap_or_else(|| {
            o.note(
                Default,
                "store.redis_addr: unset meant localhost:6379; written so",
            );
            "localhost:6379".into()
        })
    };
    let Ok(mut url) = Url::parse(&format!("redis://{host}/{db}")) else {
        f.problems.push(format!(
            "`store.redis_addr`: `{host}` is not a host:port address"
        ));
        return;
    };
    if sentinel {
        if sentinels.is_empty() {
            f.problems
                .push("`store.redis_sentinel_addrs`: required in sentinel mode".into());
        }
        let Some(master) = master else {
            f.problems
                .push("`store.redis_master_set`: required in sentinel mode".into());
            return;
        };
        o.set("store.redis_mode", Val::Text("sentinel".into()));
        o.set("store.redis_sentinel_addrs", Val::Texts(sentinels));
        o.set("store.redis_master_set", Val::Text(master));
        o.note(
            Behaviour,
            "Sentinel: store.redis_url only carries the master's password and database (its \
             host is never used); set store.redis_sentinel_password when the Sentinels \
             themselves need one",
        );
        if addr.is_some() {
            o.note(Dropped, "store.redis_addr: unused in sentinel mode");
        }
    } else if master.is_some() || !sentinels.is_empty() {
        o.note(
            Dropped,
            "store.redis_master_set, store.redis_sentinel_addrs: unused in standalone mode",
        );
    }
    let shape = format!(
        "redis://{}{host}/{db}",
        if password.is_some() {
            ":<store.redis_password>@"
        } else {
            ""
        }
    );
    match password {
        Some(_) if !options.include_secrets => {
            let file = format!("{SECRETS_DIR}/redis-url");
            o.set("store.redis_url_file", Val::Text(file.clone()));
            o.note(
                Secret,
                format!(
                    "store.redis_password: not written here. Put the URL {shape} in {file}, \
                     or set GITHUB_STATS_STORE__REDIS_URL_FILE to another file; \
                     --include-secrets writes it inline"
                ),
            );
        }
        Some(password) => {
            if url.set_password(Some(&password)).is_err() {
                f.problems
                    .push("`store.redis_password`: cannot be put in a URL".into());
                return;
            }
            o.set("store.redis_url", Val::Text(url.to_string()));
        }
        None => o.set("store.redis_url", Val::Text(url.to_string())),
    }
    o.note(
        Behaviour,
        "a Redis unreachable at start is never replaced by memory: the replica stays not \
         ready and reconnects (the in-memory fallback was permanent); the Redis key layout is \
         new, so series written under the old keys are not read — the first cycle writes them",
    );
}

/// `leader_election`: enabled → Kubernetes Leases (fenced in Redis); disabled → static.
pub(crate) fn election(f: &mut GoFile, o: &mut Out) {
    let enabled = f.boolean("leader_election.enabled").unwrap_or(false);
    let namespace = f.text("leader_election.namespace");
    let lease_name = f.text("leader_election.lease_name");
    let lease = f.duration("leader_election.lease_duration");
    let renew = f.duration("leader_election.renew_deadline");
    let retry = f.duration("leader_election.retry_period");
    o.note(
        Behaviour,
        "GITHUB_STATS_INITIAL_ROLE is refused: set leader_election.static_role \
         (GITHUB_STATS_LEADER_ELECTION__STATIC_ROLE=follower) on replicas without election",
    );
    if !enabled {
        let set: Vec<&str> = [
            "namespace",
            "lease_name",
            "lease_duration",
            "renew_deadline",
            "retry_period",
        ]
        .into_iter()
        .filter(|k| f.has(&format!("leader_election.{k}")))
        .collect();
        if !set.is_empty() {
            o.note(
                Dropped,
                format!(
                    "leader_election.{}: unused while enabled = false",
                    set.join(", ")
                ),
            );
        }
        return;
    }
    let has_redis = o.get("store.redis_url").is_some() || o.get("store.redis_url_file").is_some();
    if !has_redis {
        f.problems.push(
            "`leader_election.enabled`: election needs Redis here (it fences the leader's \
             writes), but the file uses the in-memory store"
                .into(),
        );
        return;
    }
    o.set("leader_election.enabled", Val::Bool(true));
    o.set("leader_election.backend", Val::Text("kubernetes".into()));
    match namespace {
        Some(ns) => o.set("leader_election.namespace", Val::Text(ns)),
        None => o.note(
            Default,
            "leader_election.namespace: unset means the pod's namespace",
        ),
    }
    match lease_name {
        Some(name) if is_lease_name(&name) => o.set("leader_election.lease_name", Val::Text(name)),
        Some(name) => f.problems.push(format!(
            "`leader_election.lease_name`: `{name}` is not a Lease name (lowercase letters, \
             digits, `-`)"
        )),
        None => o.note(
            Default,
            "leader_election.lease_name: unset means github-stats-exporter-leader",
        ),
    }
    let lease = if lease.is_zero() { 30 * SECOND } else { lease };
    let lease = Duration::from_secs(lease.as_secs().max(1));
    if lease > 10 * MINUTE {
        f.problems.push(format!(
            "`leader_election.lease_duration`: {} is above 10m",
            shown(lease)
        ));
        return;
    }
    let retry = if retry.is_zero() { 5 * SECOND } else { retry };
    let floor = retry.mul_f64(1.2);
    if floor >= lease {
        f.problems.push(format!(
            "`leader_election.retry_period`: {} leaves no room for a renew deadline below \
             lease_duration {} and above 1.2 × retry_period",
            shown(retry),
            shown(lease)
        ));
        return;
    }
    let renew = if renew > floor && renew < lease {
        renew
    } else {
        let two_thirds = Duration::from_secs(lease.as_secs() * 2 / 3);
        let chosen = if two_thirds > floor {
            two_thirds
        } else {
            (floor + lease) / 2
        };
        o.note(
            Default,
            format!(
                "leader_election.renew_deadline: written as {} (below lease_duration, above \
                 1.2 × retry_period)",
                shown(chosen)
            ),
        );
        chosen
    };
    o.set("leader_election.lease_duration", Val::Dur(lease));
    o.set("leader_election.renew_deadline", Val::Dur(renew));
    o.set("leader_election.retry_period", Val::Dur(retry));
    if retry > 10 * SECOND {
        o.set("leader_election.rebalance_delay", Val::Dur(retry));
    }
    o.note(
        Renamed,
        "leader_election.enabled → enabled = true with backend = \"kubernetes\": the same \
         Lease, now also fenced in Redis; members hold Leases of their own, so the Role needs \
         get, list, watch, create, update on leases (deploy/kubernetes/role.yaml)",
    );
    o.note(
        Behaviour,
        "leader_election.renew_deadline is honoured (a leader that cannot renew within it \
         stops scraping), the Lease is released on shutdown, and outside a cluster the \
         kubeconfig is used (no silent static leader)",
    );
}

/// A Kubernetes object name as the Kubernetes backend accepts it.
fn is_lease_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 200
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lease_names_follow_kubernetes_rules() {
        assert!(is_lease_name("github-stats-leader"));
        assert!(!is_lease_name("Leader"));
        assert!(!is_lease_name("-x"));
    }
}
