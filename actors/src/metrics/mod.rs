//! The metric catalog: names, help texts and kinds of every shared series, one file per family
//! group (as node_exporter keeps one collector per file). Stores and renderers look families up
//! here so that help text and type are defined once.

pub mod activity;
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
}

/// Looks a family up by the name a sample carries (`_total` stripped for counters).
pub fn lookup(name: &str) -> Option<&'static FamilySpec> {
    catalog().find(|spec| spec.name == name)
}

use crate::exposition::{Family, LabelSet, Series};
use crate::ports::Sample;

/// Groups samples into families sorted by name, series sorted by labels, with help and kind
/// from the catalog. Unknown names become gauges with a generic help. Every store adapter builds
/// its snapshot with this, so memory and Redis render identically.
pub fn assemble<'a>(samples: impl IntoIterator<Item = &'a Sample>) -> Vec<Family> {
    let mut by_name: std::collections::BTreeMap<&str, Vec<Series>> =
        std::collections::BTreeMap::new();
    for sample in samples {
        by_name
            .entry(sample.metric.as_str())
            .or_default()
            .push(Series {
                labels: LabelSet::render(&sample.labels),
                value: sample.value,
            });
    }
    let counts: Vec<Series> = activity::FAMILIES
        .iter()
        .map(|spec| Series {
            labels: LabelSet::render(&[("metric", spec.name)]),
            value: by_name.get(spec.name).map_or(0, Vec::len) as f64,
        })
        .collect();
    by_name.insert(store::SERIES.name, counts);
    by_name
        .into_iter()
        .map(|(name, mut series)| {
            series.sort_unstable_by(|a, b| a.labels.cmp(&b.labels));
            let (help, kind) = match lookup(name) {
                Some(spec) => (spec.help.to_string(), spec.kind),
                None => (
                    "Exported by github-stats-exporter.".to_string(),
                    MetricKind::Gauge,
                ),
            };
            Family {
                name: name.to_string(),
                help,
                kind,
                series,
            }
        })
        .collect()
}
