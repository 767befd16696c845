//! The write path: budget trimming, staging a generation's chunks, the fenced commit (live
//! lease + per-org epoch, exactly-once counter packets), and the re-commit of this writer's last
//! generations when Redis comes back without its data.

use std::collections::{BTreeMap, HashSet};

use bytes::Bytes;
use gse_actors::election::Grant;
use gse_actors::ports::{CounterDeltas, OrgBatch, Sample, StoreError};

use super::wire::{self, Pointer, WIRE_VERSION};
use super::{backend_error, Inner};

/// How often a commit is re-attempted after losing a race for the same org.
const MAX_COMMIT_ATTEMPTS: usize = 5;

/// What the writer remembers between calls.
#[derive(Default)]
pub(super) struct WriterState {
    /// Incarnation of the dataset the last commit landed in.
    incarnation: Option<String>,
    /// The last committed generation per org, kept encoded (≈ 80 B per series) so that a Redis
    /// that lost its data can be re-seeded without waiting for the next scrape.
    committed: BTreeMap<String, Committed>,
}

#[derive(Clone)]
struct Committed {
    /// The grant the generation was committed with: a restore re-commits with it, so the
    /// commit script's lease check lets it land only while that tenure is still live.
    grant: Option<Grant>,
    series: usize,
    chunks: Vec<Bytes>,
}

/// The commit script's verdict.
enum Verdict {
    Committed {
        incarnation: String,
    },
    /// The lease is not live, or a newer epoch already wrote the org.
    Stale {
        current: u64,
    },
    /// Another commit for the org landed between our read and our commit.
    Conflict,
    /// The budget changed under us; `others` series are held by the other orgs.
    Budget,
}

/// The org's pointer and the stored total, read before staging.
struct Before {
    pointer_text: Option<String>,
    pointer: Option<Pointer>,
    total: u64,
    generation: u64,
}

/// One commit attempt: what the script needs beyond the staged chunks.
struct Commit<'a> {
    org: &'a str,
    grant: Option<&'a Grant>,
    before: &'a Before,
    chunks: &'a [Bytes],
    series: usize,
    rejected: u64,
    budget: u64,
    /// Counter packets to apply exactly once (empty for a restore).
    packets: &'a [CounterDeltas],
}

impl Inner {
    pub(super) async fn write(&self, batch: OrgBatch) -> Result<(), StoreError> {
        let mut state = self.writer.lock().await;
        let budget = self.settings.max_series_budget;
        for _ in 0..MAX_COMMIT_ATTEMPTS {
            let before = self.read_before(&batch.org).await?;
            let old_series = before.pointer.as_ref().map_or(0, |p| p.series);
            let others = before.total.saturating_sub(old_series);
            let all: Vec<&Sample> = batch.all_samples().collect();
            let (kept, rejected) = if budget > 0 && others + all.len() as u64 > budget {
                self.trim_to_budget(&all, before.pointer.as_ref(), budget.saturating_sub(others))
                    .await?
            } else {
                (all.clone(), 0)
            };
            let chunks = wire::encode_chunks(&kept, self.settings.chunk_series)
                .map_err(|e| backend_error("encode org batch", e))?;
            let verdict = self
                .stage_and_commit(Commit {
                    org: &batch.org,
                    grant: batch.grant.as_ref(),
                    before: &before,
                    chunks: &chunks,
                    series: kept.len(),
                    rejected,
                    budget,
                    packets: &batch.counter_deltas,
                })
                .await?;
            match verdict {
                Verdict::Committed { incarnation } => {
                    let committed = Committed {
                        grant: batch.grant.clone(),
                        series: kept.len(),
                        chunks,
                    };
                    state.committed.insert(batch.org.clone(), committed);
                    self.after_commit(&mut state, incarnation, &batch.org).await;
                    return if rejected > 0 {
                        Err(StoreError::BudgetExceeded { budget, rejected })
                    } else {
                        Ok(())
                    };
                }
                Verdict::Stale { current } => {
                    // The org is someone else's now: never restore our last generation of it.
                    state.committed.remove(&batch.org);
                    return Err(StoreError::StaleEpoch {
                        attempted: batch.epoch(),
                        current,
                    });
                }
                Verdict::Conflict | Verdict::Budget => continue,
            }
        }
        Err(backend_error(
            "commit org batch",
            ConcurrentWriters(MAX_COMMIT_ATTEMPTS),
        ))
    }

    /// One round trip: the org's pointer, the stored total, and a fresh generation number.
    async fn read_before(&self, org: &str) -> Result<Before, StoreError> {
        let keys = &self.keys;
        let (pointer_text, total, generation): (Option<String>, Option<u64>, u64) = self
            .call(
                "read org pointer",
                self.settings.command_timeout,
                |mut conn| async move {
                    redis::pipe()
                        .hget(keys.orgs(), org)
                        .get(keys.total())
                        .incr(keys.generation(), 1)
                        .query_async(&mut conn)
                        .await
                },
            )
            .await?;
        let pointer = pointer_text
            .as_deref()
            .map(Pointer::parse)
            .transpose()
            .map_err(|e| backend_error("decode org pointer", e))?;
        Ok(Before {
            pointer_text,
            pointer,
            total: total.unwrap_or(0),
            generation,
        })
    }

    /// Keeps every series the org already has, then new ones while `allowed` permits (in batch
    /// order); returns the kept samples and how many new ones were rejected.
    async fn trim_to_budget<'a>(
        &self,
        samples: &[&'a Sample],
        old: Option<&Pointer>,
        allowed: u64,
    ) -> Result<(Vec<&'a Sample>, u64), StoreError> {
        let existing: HashSet<(String, Vec<(String, String)>)> = match old {
            Some(pointer) => self
                .read_chunks(pointer)
                .await?
                .iter()
                .map(|chunk| {
                    wire::decode_samples(chunk).map_err(|e| backend_error("decode org chunk", e))
                })
                .collect::<Result<Vec<_>, _>>()?
                .into_iter()
                .flatten()
                .map(|s| (s.metric, s.labels))
                .collect(),
            None => HashSet::new(),
        };
        let is_existing = |s: &Sample| existing.contains(&(s.metric.clone(), s.labels.clone()));
        let mut kept: Vec<&Sample> = samples.iter().copied().filter(|s| is_existing(s)).collect();
        let mut rejected = 0;
        for sample in samples.iter().copied().filter(|s| !is_existing(s)) {
            if (kept.len() as u64) < allowed {
                kept.push(sample);
            } else {
                rejected += 1;
            }
        }
        Ok((kept, rejected))
    }

    /// Reads the chunks of a committed generation in one pipeline.
    pub(super) async fn read_chunks(&self, pointer: &Pointer) -> Result<Vec<Vec<u8>>, StoreError> {
        let keys: Vec<String> = (0..pointer.chunks)
            .map(|i| self.keys.chunk(pointer.generation, i))
            .collect();
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let values: Vec<Option<Vec<u8>>> = self
            .call(
                "read org chunks",
                self.settings.bulk_timeout,
                |mut conn| async move {
                    let mut pipe = redis::pipe();
                    for key in &keys {
                        pipe.get(key);
                    }
                    pipe.query_async(&mut conn).await
                },
            )
            .await?;
        values
            .into_iter()
            .map(|v| {
                v.ok_or_else(|| {
                    backend_error("read org chunks", GenerationGone(pointer.generation))
                })
            })
            .collect()
    }

    /// Stages the chunks (one pipeline, short TTL) and runs the commit script.
    async fn stage_and_commit(&self, commit: Commit<'_>) -> Result<Verdict, StoreError> {
        let keys = &self.keys;
        let settings = &self.settings;
        let Commit {
            org,
            grant,
            before,
            chunks,
            series,
            rejected,
            budget,
            packets,
        } = commit;
        let generation = before.generation;
        let new_keys: Vec<String> = (0..chunks.len())
            .map(|i| keys.chunk(generation, i))
            .collect();
        if !chunks.is_empty() {
            let staging_ms = settings.staging_ttl.as_millis() as u64;
            let new_keys = &new_keys;
            self.call(
                "stage org chunks",
                settings.bulk_timeout,
                |mut conn| async move {
                    let mut pipe = redis::pipe();
                    for (key, chunk) in new_keys.iter().zip(chunks) {
                        pipe.cmd("SET")
                            .arg(key)
                            .arg(chunk.as_ref())
                            .arg("PX")
                            .arg(staging_ms)
                            .ignore();
                    }
                    pipe.query_async::<()>(&mut conn).await
                },
            )
            .await?;
        }
        let old_keys: Vec<String> = before
            .pointer
            .as_ref()
            .map(|p| (0..p.chunks).map(|i| keys.chunk(p.generation, i)).collect())
            .unwrap_or_default();
        let lease = grant.filter(|g| g.is_leased());
        let epoch = grant.map_or(0, |g| g.epoch);
        let reply: Vec<String> = self
            .call(
                "commit org batch",
                settings.command_timeout,
                |mut conn| async move {
                    let mut invocation = self.commit.prepare_invoke();
                    invocation
                        .key(keys.orgs())
                        .key(keys.total())
                        .key(keys.version())
                        .key(keys.counters())
                        .key(keys.expiry())
                        .key(keys.incarnation())
                        .key(keys.counter_packets());
                    match lease {
                        Some(grant) => invocation.key(&*grant.lease_key),
                        // Never read: the script checks the lease only when fenced.
                        None => invocation.key(keys.orgs()),
                    };
                    for key in new_keys.iter().chain(&old_keys) {
                        invocation.key(key);
                    }
                    invocation
                        .arg(org)
                        .arg(epoch)
                        .arg(generation)
                        .arg(series)
                        .arg(chunks.len())
                        .arg(before.pointer_text.as_deref().unwrap_or(""))
                        .arg(budget)
                        .arg(rejected)
                        .arg(settings.retention.as_millis() as u64)
                        .arg(settings.superseded_grace.as_millis() as u64)
                        .arg(self.propose_incarnation())
                        .arg(WIRE_VERSION)
                        .arg(if lease.is_some() { "1" } else { "0" })
                        .arg(lease.map_or("", |g| &*g.value))
                        .arg(settings.counter_packet_window.as_millis() as u64)
                        .arg(packets.len());
                    for packet in packets {
                        invocation.arg(&packet.id).arg(packet.deltas.len());
                        for delta in &packet.deltas {
                            invocation.arg(counter_field(delta)).arg(delta.value);
                        }
                    }
                    invocation.invoke_async(&mut conn).await
                },
            )
            .await?;
        parse_verdict(&reply)
    }

    /// After a commit: if the dataset is a new incarnation (Redis lost its data), re-commit
    /// every other org this writer last wrote, so no replica loses them.
    async fn after_commit(&self, state: &mut WriterState, incarnation: String, just_written: &str) {
        let lost = state
            .incarnation
            .as_ref()
            .is_some_and(|previous| *previous != incarnation);
        state.incarnation = Some(incarnation);
        if lost {
            self.restore(state, Some(just_written)).await;
        }
    }

    /// Re-commits this writer's last generations into an empty (new) dataset. Orgs that
    /// already have a pointer there (someone wrote them since) are left alone.
    ///
    /// Each generation is re-committed with the grant it was first committed with, so the
    /// commit script's lease check lets it land only while that tenure is still live: an
    /// ex-holder's restore is rejected and mutates nothing (the org is then forgotten here).
    /// Counter packets are never re-sent: they were applied in the lost dataset together with
    /// the counters they fed, which were lost with it; the counters restart from what is
    /// committed after the loss.
    async fn restore(&self, state: &mut WriterState, skip: Option<&str>) {
        let orgs: Vec<(String, Committed)> = state
            .committed
            .iter()
            .filter(|(org, _)| Some(org.as_str()) != skip)
            .map(|(org, c)| (org.clone(), c.clone()))
            .collect();
        tracing::warn!(
            orgs = orgs.len(),
            "Redis lost the stored series (new incarnation); restoring this writer's last batches"
        );
        for (org, committed) in orgs {
            let restored = async {
                let before = self.read_before(&org).await?;
                if before.pointer.is_some() {
                    return Ok(None);
                }
                let verdict = self
                    .stage_and_commit(Commit {
                        org: &org,
                        grant: committed.grant.as_ref(),
                        before: &before,
                        chunks: &committed.chunks,
                        series: committed.series,
                        rejected: 0,
                        budget: 0,
                        packets: &[],
                    })
                    .await?;
                Ok::<_, StoreError>(Some(verdict))
            };
            match restored.await {
                Ok(Some(Verdict::Committed { incarnation })) => {
                    state.incarnation = Some(incarnation)
                }
                Ok(Some(Verdict::Stale { current })) => {
                    tracing::warn!(org = %org, attempted = committed.grant.as_ref().map_or(0, |g| g.epoch), current, "not restoring an org batch: its lease is no longer this writer's");
                    state.committed.remove(&org);
                }
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(org = %org, error = %gse_actors::store::error_chain(&error), "restoring an org batch failed");
                }
            }
        }
    }

    /// Called by the reader when it sees the dataset's incarnation: restores this writer's
    /// batches if the dataset was lost since its last commit. Returns whether it restored.
    pub(super) async fn restore_if_lost(&self, incarnation: &str) -> bool {
        let mut state = self.writer.lock().await;
        let lost = state
            .incarnation
            .as_deref()
            .is_some_and(|previous| previous != incarnation);
        if !lost || state.committed.is_empty() {
            return false;
        }
        state.incarnation = Some(incarnation.to_string());
        self.restore(&mut state, None).await;
        true
    }
}

/// The counters-hash field of one counter delta.
fn counter_field(delta: &Sample) -> String {
    let labels: Vec<(&str, &str)> = delta
        .labels
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    wire::counter_field(&delta.metric, &labels)
}

fn parse_verdict(reply: &[String]) -> Result<Verdict, StoreError> {
    let unexpected = || backend_error("commit org batch", UnexpectedReply(reply.join(" ")));
    match reply.first().map(String::as_str) {
        Some("ok") => Ok(Verdict::Committed {
            incarnation: reply.get(2).cloned().ok_or_else(unexpected)?,
        }),
        Some("stale") => {
            let current = reply
                .get(1)
                .and_then(|c| c.parse().ok())
                .ok_or_else(unexpected)?;
            Ok(Verdict::Stale { current })
        }
        Some("conflict") => Ok(Verdict::Conflict),
        Some("budget") => Ok(Verdict::Budget),
        _ => Err(unexpected()),
    }
}

#[derive(Debug, thiserror::Error)]
#[error("gave up after {0} attempts: another writer kept committing the same org")]
struct ConcurrentWriters(usize);

#[derive(Debug, thiserror::Error)]
#[error("generation {0} is no longer stored (superseded or expired)")]
pub(super) struct GenerationGone(pub(super) u64);

#[derive(Debug, thiserror::Error)]
#[error("unexpected reply from the commit script: {0:?}")]
struct UnexpectedReply(String);
