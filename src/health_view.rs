//! Presentation of health for `/healthz`, `/metrics/replica` and the status page: periodic
//! services (the tick runners' records) and the `scheduler`/`consumer` dependencies derived from
//! the supervision tree's `actor.*` components.

use gse_actors::health::HealthReport;
use gse_actors::service_health::ServiceHealthSnapshot;
use serde_json::json;

/// One service as JSON: `{interval_seconds, runs, last_success, last_failure, last_error,
/// consecutive_failures}` with Unix-second timestamps (null before the first such outcome).
pub fn service_json(service: &ServiceHealthSnapshot) -> serde_json::Value {
    json!({
        "interval_seconds": service.interval.as_secs_f64(),
        "runs": service.runs,
        "last_success": service.last_success_unix,
        "last_failure": service.last_failure_unix,
        "last_error": service.last_error,
        "consecutive_failures": service.consecutive_failures,
    })
}

/// One service as a line of text for the landing page.
pub fn service_line(service: &ServiceHealthSnapshot) -> String {
    let outcome = match (&service.last_error, service.consecutive_failures) {
        (_, 0) if service.runs == 0 => "not run yet".to_string(),
        (_, 0) => "ok".to_string(),
        (Some(error), n) => format!("failing ({n} in a row): {error}"),
        (None, n) => format!("failing ({n} in a row)"),
    };
    format!(
        "{}: every {:?}, {} runs, {}",
        service.name, service.interval, service.runs, outcome
    )
}

/// Supervision components that together schedule and run the scrape cycles.
const SCHEDULER_ACTORS: [&str; 3] = ["actor.leadership", "actor.roles", "actor.orgs"];
/// Prefix of the per-org scraper components (stopped on purpose when an org is handed over).
const SCRAPER_PREFIX: &str = "actor.scrape.";
/// The backfill consumer pool's supervisor and the prefix of its consumers.
const CONSUMER_POOL: &str = "actor.backfill_consumers";
const CONSUMER_PREFIX: &str = "actor.backfill_consumer:";

/// The `dependency_health` entries derived from the supervision tree:
/// - `scheduler`: 1 while the leadership subtree (`leadership`, `roles`, `orgs`) is up and no
///   org scraper is down (a scraper stopped because its org moved elsewhere is fine);
/// - `consumer`: 1 while the backfill consumer pool and every one of its consumers are up; absent
///   when backfill is disabled (no pool runs).
///
/// A component not reported yet counts as down: the entry says whether the work happens now.
pub fn derived_dependencies(report: &HealthReport) -> Vec<(&'static str, bool)> {
    let up = |name: &str| {
        report
            .components
            .get(name)
            .is_some_and(|c| c.status.is_up())
    };
    let scrapers_fine = report
        .components
        .iter()
        .filter(|(name, _)| name.starts_with(SCRAPER_PREFIX))
        .all(|(_, c)| c.status.is_fine());
    let mut out = vec![(
        "scheduler",
        SCHEDULER_ACTORS.iter().all(|name| up(name)) && scrapers_fine,
    )];
    if report.components.contains_key(CONSUMER_POOL) {
        let consumers_up = report
            .components
            .iter()
            .filter(|(name, _)| name.starts_with(CONSUMER_PREFIX))
            .all(|(_, c)| c.status.is_up());
        out.push(("consumer", up(CONSUMER_POOL) && consumers_up));
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use gse_actors::health::{ComponentStatus, ComponentView, HealthReport, Mode, Role};

    use super::derived_dependencies;

    fn report(components: &[(&str, ComponentStatus)]) -> HealthReport {
        HealthReport {
            role: Role::Leader,
            epoch: 1,
            owned_orgs: Vec::new(),
            mode: Mode::Healthy,
            ready: true,
            components: components
                .iter()
                .map(|(name, status)| {
                    let view = ComponentView {
                        status: status.clone(),
                        required_for_ready: true,
                        since_unix: 0.0,
                    };
                    (name.to_string(), view)
                })
                .collect::<BTreeMap<_, _>>(),
            services: Vec::new(),
            scrapes: BTreeMap::new(),
        }
    }

    const HEALTHY: [(&str, ComponentStatus); 7] = [
        ("actor.leadership", ComponentStatus::Up),
        ("actor.roles", ComponentStatus::Up),
        ("actor.orgs", ComponentStatus::Up),
        ("actor.scrape.acme", ComponentStatus::Up),
        ("actor.scrape.moved", ComponentStatus::Stopped),
        ("actor.backfill_consumers", ComponentStatus::Up),
        ("actor.backfill_consumer:0", ComponentStatus::Up),
    ];

    /// A running tree: both up; a scraper stopped on purpose does not count against it.
    #[test]
    fn running_tree_is_up() {
        assert_eq!(
            derived_dependencies(&report(&HEALTHY)),
            vec![("scheduler", true), ("consumer", true)]
        );
    }

    /// A restarting RoleManager, a crashed scraper or a crashed consumer turns its entry to 0.
    #[test]
    fn a_down_child_turns_its_entry_down() {
        let down = || ComponentStatus::Down("restarting".into());
        for (child, expected) in [
            (
                "actor.roles",
                vec![("scheduler", false), ("consumer", true)],
            ),
            (
                "actor.scrape.acme",
                vec![("scheduler", false), ("consumer", true)],
            ),
            (
                "actor.backfill_consumer:0",
                vec![("scheduler", true), ("consumer", false)],
            ),
        ] {
            let mut components = HEALTHY.to_vec();
            components.retain(|(name, _)| *name != child);
            components.push((child, down()));
            assert_eq!(
                derived_dependencies(&report(&components)),
                expected,
                "{child}"
            );
        }
    }

    /// Before the leadership subtree reported, the scheduler is not running; without a
    /// consumer pool (backfill disabled) there is no consumer entry.
    #[test]
    fn missing_components() {
        assert_eq!(
            derived_dependencies(&report(&[("actor.store", ComponentStatus::Up)])),
            vec![("scheduler", false)]
        );
    }
}
