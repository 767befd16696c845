//! [`OrgMinuteCap`]: at most N enqueues per org per wall-clock minute. Memory is bounded: one
//! entry per org for the current minute only, and entries of past minutes are pruned whenever
//! the minute changes.

use std::collections::HashMap;

/// Per-org counter of the current minute.
#[derive(Debug)]
pub struct OrgMinuteCap {
    cap: u32,
    minute: u64,
    counts: HashMap<String, u32>,
}

impl OrgMinuteCap {
    /// A cap of `cap` enqueues per org per minute.
    pub fn new(cap: u32) -> OrgMinuteCap {
        OrgMinuteCap {
            cap,
            minute: 0,
            counts: HashMap::new(),
        }
    }

    /// Charges one enqueue to `org` at Unix second `now_unix`; `false` when the cap is reached
    /// (nothing is charged then).
    pub fn try_take(&mut self, org: &str, now_unix: u64) -> bool {
        let minute = now_unix / 60;
        if minute != self.minute {
            self.minute = minute;
            self.counts.clear();
        }
        let count = self.counts.entry(org.to_string()).or_insert(0);
        if *count >= self.cap {
            return false;
        }
        *count += 1;
        true
    }

    /// Returns a charge (the publish it was for was not attempted).
    pub fn refund(&mut self, org: &str) {
        if let Some(count) = self.counts.get_mut(org) {
            *count = count.saturating_sub(1);
        }
    }

    /// Orgs tracked right now (bounded by the orgs active in the current minute).
    pub fn tracked(&self) -> usize {
        self.counts.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cap holds within a minute, resets the next minute, and old minutes are forgotten.
    #[test]
    fn cap_per_org_per_minute_with_bounded_memory() {
        let mut cap = OrgMinuteCap::new(2);
        assert!(cap.try_take("a", 60));
        assert!(cap.try_take("a", 61));
        assert!(!cap.try_take("a", 119));
        assert!(cap.try_take("b", 119));
        assert!(cap.try_take("a", 120));
        assert_eq!(cap.tracked(), 1);
    }
}
