//! Wire encoding of the Redis metric store, versioned so that a newer build can refuse (not
//! misread) data it does not understand.
//!
//! - **Chunk** (a STRING value): `GSEC`, format version byte, series count (u32 LE), then per
//!   series: metric name, label count (u8), each label name and value (u32 LE length + UTF-8
//!   bytes), and the value (f64 LE). Binary and length-prefixed, so decoding needs no escaping
//!   and a series costs one pass.
//! - **Pointer** (a field of the orgs HASH, written by `commit.lua`):
//!   `<version>:<generation>:<series>:<chunks>:<epoch>:<committed unix ms>`; `epoch` is the
//!   fencing epoch of the commit, the per-org fence of the next one.
//! - **Counter field** (a field of the counters HASH): the metric name (without `_total`), then
//!   for each label `\x1f name \x1e value`.

use std::collections::BTreeMap;

use bytes::{BufMut, Bytes, BytesMut};
use gse_actors::exposition::{LabelSet, Series};
use gse_actors::ports::Sample;

/// Format version of chunks and pointers this build writes and reads.
pub const WIRE_VERSION: u8 = 1;
const MAGIC: &[u8; 4] = b"GSEC";

/// Why stored bytes could not be decoded.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum WireError {
    #[error("not a chunk of this store (bad magic)")]
    BadMagic,
    #[error("wire format version {0} is not supported (this build reads {WIRE_VERSION})")]
    UnsupportedVersion(u8),
    #[error("chunk truncated")]
    Truncated,
    #[error("chunk holds invalid UTF-8")]
    InvalidUtf8,
    #[error("series has {0} labels; at most 255 are supported")]
    TooManyLabels(usize),
    #[error("malformed pointer {0:?}")]
    BadPointer(String),
}

/// Encodes `samples` into chunks of at most `per_chunk` series.
pub fn encode_chunks(samples: &[&Sample], per_chunk: usize) -> Result<Vec<Bytes>, WireError> {
    samples.chunks(per_chunk.max(1)).map(encode_chunk).collect()
}

fn encode_chunk(samples: &[&Sample]) -> Result<Bytes, WireError> {
    let size: usize = samples
        .iter()
        .map(|s| {
            13 + s.metric.len()
                + s.labels
                    .iter()
                    .map(|(k, v)| 8 + k.len() + v.len())
                    .sum::<usize>()
        })
        .sum();
    let mut out = BytesMut::with_capacity(9 + size);
    out.put_slice(MAGIC);
    out.put_u8(WIRE_VERSION);
    out.put_u32_le(samples.len() as u32);
    for sample in samples {
        put_str(&mut out, &sample.metric);
        let labels = u8::try_from(sample.labels.len())
            .map_err(|_| WireError::TooManyLabels(sample.labels.len()))?;
        out.put_u8(labels);
        for (name, value) in &sample.labels {
            put_str(&mut out, name);
            put_str(&mut out, value);
        }
        out.put_f64_le(sample.value);
    }
    Ok(out.freeze())
}

fn put_str(out: &mut BytesMut, text: &str) {
    out.put_u32_le(text.len() as u32);
    out.put_slice(text.as_bytes());
}

/// A cursor over one chunk.
struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    fn open(data: &'a [u8]) -> Result<(Reader<'a>, u32), WireError> {
        if data.len() < 9 || &data[..4] != MAGIC {
            return Err(WireError::BadMagic);
        }
        if data[4] != WIRE_VERSION {
            return Err(WireError::UnsupportedVersion(data[4]));
        }
        let mut reader = Reader { data: &data[5..] };
        let count = reader.u32()?;
        Ok((reader, count))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        if self.data.len() < n {
            return Err(WireError::Truncated);
        }
        let (head, rest) = self.data.split_at(n);
        self.data = rest;
        Ok(head)
    }

    fn u32(&mut self) -> Result<u32, WireError> {
        let bytes = self.take(4)?;
        Ok(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }

    fn u8(&mut self) -> Result<u8, WireError> {
        Ok(self.take(1)?[0])
    }

    fn f64(&mut self) -> Result<f64, WireError> {
        let bytes = self.take(8)?;
        let mut array = [0u8; 8];
        array.copy_from_slice(bytes);
        Ok(f64::from_le_bytes(array))
    }

    fn str(&mut self) -> Result<&'a str, WireError> {
        let len = self.u32()? as usize;
        std::str::from_utf8(self.take(len)?).map_err(|_| WireError::InvalidUtf8)
    }
}

/// Decodes a chunk into rendered series grouped by metric name (appending to `into`). Label sets
/// are escaped and rendered here, once per stored generation, never per `/metrics` request.
pub fn decode_series_into(
    data: &[u8],
    into: &mut BTreeMap<String, Vec<Series>>,
) -> Result<(), WireError> {
    let (mut reader, count) = Reader::open(data)?;
    let mut labels: Vec<(&str, &str)> = Vec::with_capacity(4);
    for _ in 0..count {
        let metric = reader.str()?;
        labels.clear();
        for _ in 0..reader.u8()? {
            let name = reader.str()?;
            let value = reader.str()?;
            labels.push((name, value));
        }
        let series = Series {
            labels: LabelSet::render(&labels),
            value: reader.f64()?,
        };
        match into.get_mut(metric) {
            Some(list) => list.push(series),
            None => {
                into.insert(metric.to_string(), vec![series]);
            }
        }
    }
    Ok(())
}

/// Decodes a chunk back into samples (the budget check needs series identities).
pub fn decode_samples(data: &[u8]) -> Result<Vec<Sample>, WireError> {
    let (mut reader, count) = Reader::open(data)?;
    let mut out = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let metric = reader.str()?.to_string();
        let mut labels = Vec::new();
        for _ in 0..reader.u8()? {
            labels.push((reader.str()?.to_string(), reader.str()?.to_string()));
        }
        out.push(Sample {
            metric,
            labels,
            value: reader.f64()?,
        });
    }
    Ok(out)
}

/// An org's committed generation, as stored in the orgs hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pointer {
    pub generation: u64,
    pub series: u64,
    pub chunks: usize,
    /// Epoch of the grant that committed it: `commit.lua` rejects older epochs for this org.
    pub epoch: u64,
    pub committed_unix_ms: u64,
}

impl Pointer {
    pub fn parse(text: &str) -> Result<Pointer, WireError> {
        let bad = || WireError::BadPointer(text.to_string());
        let mut parts = text.split(':');
        let mut next = || parts.next().ok_or_else(bad);
        let version: u8 = next()?.parse().map_err(|_| bad())?;
        if version != WIRE_VERSION {
            return Err(WireError::UnsupportedVersion(version));
        }
        let generation = next()?.parse().map_err(|_| bad())?;
        let series = next()?.parse().map_err(|_| bad())?;
        let chunks = next()?.parse().map_err(|_| bad())?;
        let epoch = next()?.parse().map_err(|_| bad())?;
        let committed_unix_ms = next()?.parse().map_err(|_| bad())?;
        Ok(Pointer {
            generation,
            series,
            chunks,
            epoch,
            committed_unix_ms,
        })
    }
}

/// The counters-hash field of a counter series (labels sorted by name).
pub fn counter_field(metric: &str, labels: &[(&str, &str)]) -> String {
    let mut field = metric.to_string();
    for (name, value) in labels {
        field.push('\x1f');
        field.push_str(name);
        field.push('\x1e');
        field.push_str(value);
    }
    field
}

/// Splits a counters-hash field into the metric name and its rendered labels.
pub fn parse_counter_field(field: &str) -> (&str, LabelSet) {
    let mut parts = field.split('\x1f');
    let metric = parts.next().unwrap_or_default();
    let labels: Vec<(&str, &str)> = parts
        .map(|pair| pair.split_once('\x1e').unwrap_or((pair, "")))
        .collect();
    (metric, LabelSet::render(&labels))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(user: &str, value: f64) -> Sample {
        Sample {
            metric: "gh_activity_commits_24h".into(),
            labels: vec![
                ("org".into(), "a".into()),
                ("repo".into(), "r\"x".into()),
                ("user".into(), user.into()),
            ],
            value,
        }
    }

    /// Encoded chunks decode to the same samples, split at the chunk size.
    #[test]
    fn chunks_round_trip() {
        let samples: Vec<Sample> = (0..5)
            .map(|i| sample(&format!("u{i}"), f64::from(i) + 0.5))
            .collect();
        let refs: Vec<&Sample> = samples.iter().collect();
        let chunks = encode_chunks(&refs, 2).unwrap();
        assert_eq!(chunks.len(), 3);
        let decoded: Vec<Sample> = chunks
            .iter()
            .flat_map(|c| decode_samples(c).unwrap())
            .collect();
        assert_eq!(decoded, samples);
        let mut grouped = BTreeMap::new();
        decode_series_into(&chunks[0], &mut grouped).unwrap();
        assert_eq!(
            grouped["gh_activity_commits_24h"][0].labels.as_str(),
            "{org=\"a\",repo=\"r\\\"x\",user=\"u0\"}"
        );
    }

    /// A chunk of another format version, or a truncated one, is refused rather than misread.
    #[test]
    fn foreign_or_truncated_chunks_are_refused() {
        let samples = [sample("u", 1.0)];
        let refs: Vec<&Sample> = samples.iter().collect();
        let chunk = encode_chunks(&refs, 10).unwrap().remove(0);
        let mut newer = chunk.to_vec();
        newer[4] = WIRE_VERSION + 1;
        assert_eq!(
            decode_samples(&newer),
            Err(WireError::UnsupportedVersion(WIRE_VERSION + 1))
        );
        assert_eq!(
            decode_samples(&chunk[..chunk.len() - 3]),
            Err(WireError::Truncated)
        );
        assert_eq!(decode_samples(b"nonsense"), Err(WireError::BadMagic));
    }

    /// Pointers parse, and a pointer of another version is refused.
    #[test]
    fn pointers_parse_and_check_version() {
        let pointer = Pointer::parse("1:42:60000:15:3:1700000000000").unwrap();
        assert_eq!(
            pointer,
            Pointer {
                generation: 42,
                series: 60000,
                chunks: 15,
                epoch: 3,
                committed_unix_ms: 1_700_000_000_000
            }
        );
        assert_eq!(
            Pointer::parse("2:1:1:1:1:1"),
            Err(WireError::UnsupportedVersion(2))
        );
        assert!(matches!(
            Pointer::parse("1:x"),
            Err(WireError::BadPointer(_))
        ));
    }

    /// Counter fields carry the labels the script writes (`\x1f name \x1e value`).
    #[test]
    fn counter_fields_round_trip() {
        let field = counter_field("gh_exporter_store_write", &[("result", "success")]);
        assert_eq!(field, "gh_exporter_store_write\u{1f}result\u{1e}success");
        let (metric, labels) = parse_counter_field(&field);
        assert_eq!(metric, "gh_exporter_store_write");
        assert_eq!(labels.as_str(), "{result=\"success\"}");
        assert_eq!(
            parse_counter_field("gh_exporter_store_series_rejected")
                .1
                .as_str(),
            ""
        );
    }
}
