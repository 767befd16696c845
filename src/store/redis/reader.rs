//! The read path: an incremental, versioned snapshot. Each refresh runs `read_state.lua` (which
//! also expires orgs past retention); when the version moved, only orgs whose pointer changed
//! are fetched (one pipeline) and decoded; the others come from this replica's cache.

use std::collections::BTreeMap;

use gse_actors::exposition::Series;
use gse_actors::metrics;
use gse_actors::ports::{StoreError, StoreSnapshot};
use redis::Value;

use super::wire::{self, Pointer};
use super::{backend_error, Inner};

/// How often a refresh re-reads the state when a generation vanished mid-read.
const MAX_READ_ATTEMPTS: usize = 3;

/// What this replica has loaded.
#[derive(Default)]
pub(super) struct ReaderState {
    incarnation: String,
    redis_version: String,
    /// Version handed to the StoreActor; moves whenever the loaded data changed.
    local_version: u64,
    orgs: BTreeMap<String, CachedOrg>,
    /// Shared counters: (metric, series).
    counters: Vec<(String, Series)>,
}

struct CachedOrg {
    pointer: String,
    series: BTreeMap<String, Vec<Series>>,
}

/// Field/value pairs of a hash (org pointers, shared counters).
type Pairs = Vec<(String, String)>;

/// The state script's answer.
struct State {
    incarnation: String,
    version: String,
    /// `None` when unchanged since the caller's known state.
    changed: Option<(Pairs, Pairs)>,
}

impl Inner {
    pub(super) async fn load(
        &self,
        known_version: u64,
    ) -> Result<Option<StoreSnapshot>, StoreError> {
        let mut reader = self.reader.lock().await;
        for attempt in 1..=MAX_READ_ATTEMPTS {
            let mut state = self.read_state(&reader).await?;
            if self.restore_if_lost(&state.incarnation).await {
                // This process is the writer and just re-seeded a dataset that had lost its
                // data: read the restored state.
                state = self.read_state(&reader).await?;
            }
            let Some((pointers, counters)) = state.changed else {
                if known_version == reader.local_version && reader.local_version != 0 {
                    return Ok(None);
                }
                return Ok(Some(build(&reader)));
            };
            let new_incarnation = state.incarnation != reader.incarnation;
            if new_incarnation
                && reader.local_version != 0
                && pointers.is_empty()
                && !reader.orgs.is_empty()
            {
                // Redis restarted empty. Publishing that would blank every replica's /metrics;
                // keep the last snapshot (reported stale) until the leader restores or rewrites.
                return Err(backend_error("load snapshot", DataLost));
            }
            match self.fetch_changed(&reader, &pointers).await {
                Ok(mut fetched) => {
                    let mut previous = std::mem::take(&mut reader.orgs);
                    let mut next = BTreeMap::new();
                    for (org, pointer) in pointers {
                        let entry = match fetched.remove(&org) {
                            Some(series) => CachedOrg { pointer, series },
                            // Unchanged pointer: `fetch_changed` skipped it because it is cached.
                            None => previous.remove(&org).unwrap_or(CachedOrg {
                                pointer,
                                series: BTreeMap::new(),
                            }),
                        };
                        next.insert(org, entry);
                    }
                    reader.orgs = next;
                    reader.counters = counters
                        .iter()
                        .map(|(field, value)| {
                            let (metric, labels) = wire::parse_counter_field(field);
                            (
                                metric.to_string(),
                                Series {
                                    labels,
                                    value: value.parse().unwrap_or(f64::NAN),
                                },
                            )
                        })
                        .collect();
                    reader.incarnation = state.incarnation;
                    reader.redis_version = state.version;
                    reader.local_version += 1;
                    return Ok(Some(build(&reader)));
                }
                Err(error) if attempt < MAX_READ_ATTEMPTS => {
                    tracing::debug!(error = %gse_actors::store::error_chain(&error), "generation changed during the read; retrying");
                }
                Err(error) => return Err(error),
            }
        }
        unreachable!("the last attempt returns its error")
    }

    async fn read_state(&self, reader: &ReaderState) -> Result<State, StoreError> {
        let keys = &self.keys;
        let reply: Vec<Value> = self
            .call(
                "read store state",
                self.settings.command_timeout,
                |mut conn| async move {
                    self.read_state
                        .key(keys.version())
                        .key(keys.orgs())
                        .key(keys.expiry())
                        .key(keys.total())
                        .key(keys.counters())
                        .key(keys.incarnation())
                        .arg(&reader.incarnation)
                        .arg(&reader.redis_version)
                        .arg(self.propose_incarnation())
                        .invoke_async(&mut conn)
                        .await
                },
            )
            .await?;
        parse_state(reply).map_err(|e| backend_error("read store state", e))
    }

    /// Fetches and decodes the orgs whose pointer differs from the cache, in one pipeline.
    async fn fetch_changed(
        &self,
        reader: &ReaderState,
        pointers: &[(String, String)],
    ) -> Result<BTreeMap<String, BTreeMap<String, Vec<Series>>>, StoreError> {
        let mut wanted: Vec<(String, Pointer)> = Vec::new();
        for (org, text) in pointers {
            if reader
                .orgs
                .get(org)
                .is_some_and(|cached| cached.pointer == *text)
            {
                continue;
            }
            let pointer =
                Pointer::parse(text).map_err(|e| backend_error("decode org pointer", e))?;
            wanted.push((org.clone(), pointer));
        }
        let keys: Vec<String> = wanted
            .iter()
            .flat_map(|(_, p)| (0..p.chunks).map(move |i| self.keys.chunk(p.generation, i)))
            .collect();
        let values: Vec<Option<Vec<u8>>> = if keys.is_empty() {
            Vec::new()
        } else {
            let keys = &keys;
            self.call(
                "read org chunks",
                self.settings.bulk_timeout,
                |mut conn| async move {
                    let mut pipe = redis::pipe();
                    for key in keys {
                        pipe.get(key);
                    }
                    pipe.query_async(&mut conn).await
                },
            )
            .await?
        };
        let mut values = values.into_iter();
        let mut out = BTreeMap::new();
        for (org, pointer) in wanted {
            let mut series = BTreeMap::new();
            for _ in 0..pointer.chunks {
                let chunk = values.next().flatten().ok_or_else(|| {
                    backend_error(
                        "read org chunks",
                        super::writer::GenerationGone(pointer.generation),
                    )
                })?;
                wire::decode_series_into(&chunk, &mut series)
                    .map_err(|e| backend_error("decode org chunk", e))?;
            }
            out.insert(org, series);
        }
        Ok(out)
    }
}

/// Assembles the snapshot from the cache: org series plus shared counters, via the same
/// catalog function the memory store uses, so both render identically.
fn build(reader: &ReaderState) -> StoreSnapshot {
    let mut by_name: BTreeMap<String, Vec<Series>> = BTreeMap::new();
    for org in reader.orgs.values() {
        for (metric, series) in &org.series {
            match by_name.get_mut(metric.as_str()) {
                Some(list) => list.extend_from_slice(series),
                None => {
                    by_name.insert(metric.clone(), series.clone());
                }
            }
        }
    }
    for (metric, series) in &reader.counters {
        by_name
            .entry(metric.clone())
            .or_default()
            .push(series.clone());
    }
    StoreSnapshot {
        version: reader.local_version,
        families: metrics::assemble_series(by_name),
    }
}

fn parse_state(reply: Vec<Value>) -> Result<State, MalformedState> {
    let mut items = reply.into_iter();
    let incarnation = text(items.next())?;
    let version = text(items.next())?;
    let changed = match (items.next(), items.next()) {
        (Some(orgs), Some(counters)) => Some((pairs(orgs)?, pairs(counters)?)),
        (None, None) => None,
        _ => return Err(MalformedState),
    };
    Ok(State {
        incarnation,
        version,
        changed,
    })
}

fn text(value: Option<Value>) -> Result<String, MalformedState> {
    match value {
        Some(value) => redis::from_redis_value(value).map_err(|_| MalformedState),
        None => Err(MalformedState),
    }
}

fn pairs(value: Value) -> Result<Vec<(String, String)>, MalformedState> {
    let flat: Vec<String> = redis::from_redis_value(value).map_err(|_| MalformedState)?;
    if flat.len() % 2 != 0 {
        return Err(MalformedState);
    }
    Ok(flat
        .chunks(2)
        .map(|pair| (pair[0].clone(), pair[1].clone()))
        .collect())
}

#[derive(Debug, thiserror::Error)]
#[error("the state script answered in an unexpected shape")]
struct MalformedState;

#[derive(Debug, thiserror::Error)]
#[error("Redis came back without the stored series (new incarnation); serving the last snapshot until the leader rewrites them")]
struct DataLost;
