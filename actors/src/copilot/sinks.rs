//! The reductions of one report read: a [`Sink`] receives every JSON value the
//! [`ValueScanner`] cuts out of the downloaded files and keeps only what the series need — the
//! newest day record of an organization/enterprise report ([`DaySink`]) or each user's latest
//! row of a users report ([`UserSink`]) — counting what it skips (malformed values, the record
//! and user caps).

use super::model::{DayRecord, UserRow};
use super::reader::ValueScanner;
use super::users::UserReduction;
use crate::calendar::day_start;

/// Receives the decoded values of one report read; reset when the read starts over.
pub trait Sink: Send {
    /// Forgets everything taken so far (the read starts over with new links).
    fn reset(&mut self);
    /// Takes one JSON value.
    fn value(&mut self, bytes: &[u8]);
    /// Values that did not decode as a record.
    fn malformed(&self) -> u64;
}

/// Keeps the newest day record of an organization/enterprise report.
#[derive(Default)]
pub struct DaySink {
    /// The newest day record so far.
    pub latest: Option<DayRecord>,
    records: u64,
    max_records: u64,
    /// Records past `max_records`.
    pub record_cap: u64,
    malformed: u64,
}

impl DaySink {
    /// `max_records` = 0: no cap.
    pub fn new(max_records: u64) -> DaySink {
        DaySink {
            max_records,
            ..DaySink::default()
        }
    }

    fn take(&mut self, record: DayRecord) {
        if record.day.as_deref().and_then(day_start).is_none() {
            self.malformed += 1;
            return;
        }
        if self.max_records != 0 && self.records >= self.max_records {
            self.record_cap += 1;
            return;
        }
        self.records += 1;
        if self.latest.as_ref().is_none_or(|l| record.day > l.day) {
            self.latest = Some(record);
        }
    }
}

impl Sink for DaySink {
    fn reset(&mut self) {
        *self = DaySink::new(self.max_records);
    }

    fn value(&mut self, bytes: &[u8]) {
        match serde_json::from_slice::<DayRecord>(bytes) {
            Ok(mut record) => match record.day_totals.take() {
                Some(days) => days.into_iter().for_each(|d| self.take(d)),
                None => self.take(record),
            },
            Err(_) => self.malformed += 1,
        }
    }

    fn malformed(&self) -> u64 {
        self.malformed
    }
}

/// Reduces a users report to each user's latest row.
pub struct UserSink {
    /// The users kept.
    pub users: UserReduction,
    records: u64,
    max_records: u64,
    max_users: usize,
    /// Rows past `max_records`.
    pub record_cap: u64,
    malformed: u64,
}

impl UserSink {
    /// `max_records`, `max_users` = 0: no cap.
    pub fn new(max_records: u64, max_users: u64) -> UserSink {
        let max_users = usize::try_from(max_users).unwrap_or(usize::MAX);
        UserSink {
            users: UserReduction::new(max_users),
            records: 0,
            max_records,
            max_users,
            record_cap: 0,
            malformed: 0,
        }
    }
}

impl Sink for UserSink {
    fn reset(&mut self) {
        *self = UserSink::new(self.max_records, self.max_users as u64);
    }

    fn value(&mut self, bytes: &[u8]) {
        match serde_json::from_slice::<UserRow>(bytes) {
            Ok(row) if row.user_id.is_some() || row.user_login.is_some() => {
                if self.max_records != 0 && self.records >= self.max_records {
                    self.record_cap += 1;
                    return;
                }
                self.records += 1;
                self.users.add(row);
            }
            _ => self.malformed += 1,
        }
    }

    fn malformed(&self) -> u64 {
        self.malformed
    }
}

/// Reads a users report given as chunks through the real scanner and per-user reduction (as a
/// run reads its downloads); returns the users kept and the values skipped as malformed. For
/// the parse benchmark.
pub fn reduce_users<C: AsRef<[u8]>>(
    chunks: impl IntoIterator<Item = C>,
    max_value_bytes: usize,
) -> (usize, u64) {
    let mut sink = UserSink::new(0, 0);
    let mut scanner = ValueScanner::ndjson(max_value_bytes);
    for chunk in chunks {
        scanner.push(chunk.as_ref(), &mut |v| sink.value(v));
    }
    scanner.finish(&mut |v| sink.value(v));
    (sink.users.len(), sink.malformed + scanner.malformed())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_sink_keeps_the_newest_day_and_honours_the_record_cap() {
        let mut sink = DaySink::new(2);
        sink.value(br#"{"report_end_day":"2026-11-03","day_totals":[{"day":"2026-11-01"},{"day":"2026-11-03"},{"day":"2026-11-02"}]}"#);
        sink.value(br#"{"day_totals":"not a list"}"#);
        sink.value(br#"{"no_day":1}"#);
        assert_eq!(
            sink.latest.as_ref().and_then(|r| r.day.as_deref()),
            Some("2026-11-03")
        );
        assert_eq!(sink.record_cap, 1);
        assert_eq!(sink.malformed(), 2);
    }

    #[test]
    fn user_sink_counts_caps_and_malformed_rows() {
        let mut sink = UserSink::new(3, 1);
        for row in [
            r#"{"user_id":1,"user_login":"a","day":"2026-11-01"}"#,
            r#"{"user_id":2,"user_login":"b","day":"2026-11-01"}"#,
            r#"["an","unknown","shape"]"#,
            r#"{"user_id":1,"user_login":"a","day":"2026-11-02"}"#,
            r#"{"user_id":3,"user_login":"c","day":"2026-11-02"}"#,
        ] {
            sink.value(row.as_bytes());
        }
        assert_eq!(sink.users.len(), 1);
        assert_eq!(sink.users.user_cap_skipped, 1);
        assert_eq!(sink.record_cap, 1);
        assert_eq!(sink.malformed(), 1);
    }

    #[test]
    fn reduce_users_reads_across_chunks() {
        let text = b"{\"user_id\":1,\"day\":\"2026-11-01\"}\n{\"user_id\":2,\"day\":\"2026-11-01\"}\n{broken\n";
        let (users, malformed) = reduce_users(text.chunks(5), 1 << 10);
        assert_eq!((users, malformed), (2, 1));
    }
}
