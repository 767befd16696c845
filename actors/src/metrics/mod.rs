//! The metric catalog: names, help texts and kinds of every shared series, one file per family
//! group (as node_exporter keeps one collector per file). Stores and renderers look families up
//! here so that help text and type are defined once.

pub mod activity;
pub mod copilot;
pub mod github_api;
pub mod scrape;
pub mod store;

use crate::exposition::MetricKind;

/// A family's fixed description.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FamilySpec {
    /// Family name; for counters without the `_total` that samples carry.
    pub name: &'static str,
    pub help: &'static str,
    pub kind: MetricKind,
    /// Label names in sorted order.
    pub labels: &'static [&'static str],
}

/// Every shared family this build knows.
pub fn catalog() -> impl Iterator<Item = &'static FamilySpec> {
    activity::FAMILIES
        .iter()
        .chain(store::FAMILIES.iter())
        .chain(scrape::FAMILIES.iter())
        .chain(github_api::FAMILIES.iter())
        .chain(copilot::FAMILIES.iter())
        .chain(copilot::REPORT_FAMILIES.iter())
        .chain(copilot::USAGE.iter())
        .chain(copilot::USER.iter())
}

/// Looks a family up by the name a sample carries (`_total` stripped for counters).
pub fn lookup(name: &str) -> Option<&'static FamilySpec> {
    catalog().find(|spec| spec.name == name)
}

use std::collections::BTreeMap;

use crate::exposition::{Family, LabelSet, Series};
use crate::ports::Sample;

/// Groups samples into families sorted by name, series sorted by labels, with help and kind
/// from the catalog. Unknown names become gauges with a generic help. Every store adapter builds
/// its snapshot with this (or [`assemble_series`]), so memory and Redis render identically.
pub fn assemble<'a>(samples: impl IntoIterator<Item = &'a Sample>) -> Vec<Family> {
    let mut by_name: BTreeMap<String, Vec<Series>> = BTreeMap::new();
    for sample in samples {
        match by_name.get_mut(sample.metric.as_str()) {
            Some(series) => series.push(Series {
                labels: LabelSet::render(&sample.labels),
                value: sample.value,
            }),
            None => {
                let series = vec![Series {
                    labels: LabelSet::render(&sample.labels),
                    value: sample.value,
                }];
                by_name.insert(sample.metric.clone(), series);
            }
        }
    }
    assemble_series(by_name)
}

/// Like [`assemble`], for adapters that already hold rendered series grouped by metric name
/// (the Redis adapter decodes straight into this shape, so no label set is rendered twice).
/// Adds the `gh_exporter_series` counts, sorts each family's series, and attaches help and kind.
pub fn assemble_series(mut by_name: BTreeMap<String, Vec<Series>>) -> Vec<Family> {
    let counts: Vec<Series> = activity::FAMILIES
        .iter()
        .map(|spec| Series {
            labels: LabelSet::render(&[("metric", spec.name)]),
            value: by_name.get(spec.name).map_or(0, Vec::len) as f64,
        })
        .collect();
    by_name.insert(store::SERIES.name.to_string(), counts);
    by_name
        .into_iter()
        .map(|(name, mut series)| {
            series.sort_unstable_by(|a, b| a.labels.cmp(&b.labels));
            let (help, kind) = match lookup(&name) {
                Some(spec) => (spec.help.to_string(), spec.kind),
                None => (
                    "Exported by github-stats-exporter.".to_string(),
                    MetricKind::Gauge,
                ),
            };
            Family {
                name,
                help,
                kind,
                series,
            }
        })
        .collect()
}
