//! Secondary rate limits per credential: too many requests in flight at once, or too many within
//! a burst window of the fake clock, are refused with 403/429 and `retry-after`.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use crate::config::SecondaryLimits;

#[derive(Debug, Default)]
struct PerKey {
    in_flight: u32,
    recent: VecDeque<f64>,
}

#[derive(Debug)]
pub struct Secondary {
    cfg: SecondaryLimits,
    state: Arc<Mutex<HashMap<String, PerKey>>>,
}

/// Why a request was refused, with the `retry-after` seconds to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Concurrency { retry_after: u64 },
    Burst { retry_after: u64 },
}

impl Refusal {
    pub fn retry_after(self) -> u64 {
        match self {
            Refusal::Concurrency { retry_after } | Refusal::Burst { retry_after } => retry_after,
        }
    }
}

/// Held while a request is in flight; releases its slot on drop.
#[derive(Debug)]
pub struct InFlight {
    key: String,
    state: Arc<Mutex<HashMap<String, PerKey>>>,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(k) = state.get_mut(&self.key) {
            k.in_flight = k.in_flight.saturating_sub(1);
        }
    }
}

impl Secondary {
    pub fn new(cfg: SecondaryLimits) -> Secondary {
        Secondary {
            cfg,
            state: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    pub fn status(&self) -> u16 {
        self.cfg.status
    }

    /// Admits a request of `key` at `now`, or refuses it.
    pub fn admit(&self, key: &str, now: f64) -> Result<InFlight, Refusal> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let k = state.entry(key.to_string()).or_default();
        if self.cfg.max_concurrent > 0 && k.in_flight >= self.cfg.max_concurrent {
            return Err(Refusal::Concurrency {
                retry_after: u64::from(self.cfg.concurrency_retry_after_secs),
            });
        }
        if self.cfg.burst_max > 0 {
            let window = f64::from(self.cfg.burst_window_secs);
            while k
                .recent
                .front()
                .is_some_and(|t| *t <= now - window || *t > now)
            {
                k.recent.pop_front();
            }
            if k.recent.len() >= self.cfg.burst_max as usize {
                let oldest = k.recent.front().copied().unwrap_or(now);
                let retry_after = (oldest + window - now).ceil().max(1.0) as u64;
                return Err(Refusal::Burst { retry_after });
            }
            k.recent.push_back(now);
        }
        k.in_flight += 1;
        Ok(InFlight {
            key: key.to_string(),
            state: self.state.clone(),
        })
    }

    pub fn reset_all(&self) {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|_, k| k.in_flight > 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Concurrency and burst thresholds refuse with the documented retry-after.
    #[test]
    fn limits_refuse_beyond_thresholds() {
        let s = Secondary::new(SecondaryLimits {
            max_concurrent: 2,
            burst_max: 3,
            burst_window_secs: 60,
            status: 429,
            concurrency_retry_after_secs: 5,
        });
        let a = s.admit("k", 0.0).ok();
        let b = s.admit("k", 0.0).ok();
        assert_eq!(
            s.admit("k", 0.0).err(),
            Some(Refusal::Concurrency { retry_after: 5 })
        );
        drop((a, b));
        let _c = s.admit("k", 10.0).ok();
        assert_eq!(
            s.admit("k", 20.0).err(),
            Some(Refusal::Burst { retry_after: 40 })
        );
        assert!(s.admit("k", 60.5).is_ok());
    }
}
