//! Primary rate limits: a budget per credential that refills at `reset` (fixed windows of the
//! fake clock starting at the credential's first request), as GitHub's `x-ratelimit-*` report.

use std::collections::HashMap;
use std::sync::Mutex;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BudgetView {
    pub limit: u32,
    pub used: u32,
    pub remaining: u32,
    /// Unix seconds when the window refills.
    pub reset: i64,
}

#[derive(Debug)]
pub struct Budgets {
    limit: u32,
    window_secs: f64,
    state: Mutex<HashMap<String, (u32, f64)>>,
}

impl Budgets {
    pub fn new(limit: u32, window_secs: f64) -> Budgets {
        Budgets {
            limit,
            window_secs,
            state: Mutex::new(HashMap::new()),
        }
    }

    /// The budget of `key` at `now` without using it.
    pub fn peek(&self, key: &str, now: f64) -> BudgetView {
        let mut state = self.lock();
        let (used, reset) = *self.entry(&mut state, key, now);
        self.view(used, reset)
    }

    /// Uses one unit. Returns the budget after the call, or `Err` with the (exhausted) budget.
    pub fn consume(&self, key: &str, now: f64) -> Result<BudgetView, BudgetView> {
        self.consume_points(key, now, 1)
    }

    /// Uses `points` units at once (a GraphQL query's cost), or none when fewer remain: `Err`
    /// carries the budget unchanged.
    pub fn consume_points(
        &self,
        key: &str,
        now: f64,
        points: u32,
    ) -> Result<BudgetView, BudgetView> {
        let mut state = self.lock();
        let e = self.entry(&mut state, key, now);
        if e.0 >= self.limit || self.limit - e.0 < points {
            let (used, reset) = *e;
            return Err(self.view(used, reset));
        }
        e.0 += points;
        let (used, reset) = *e;
        Ok(self.view(used, reset))
    }

    fn entry<'a>(
        &self,
        state: &'a mut HashMap<String, (u32, f64)>,
        key: &str,
        now: f64,
    ) -> &'a mut (u32, f64) {
        let window = self.window_secs;
        let e = state
            .entry(key.to_string())
            .or_insert((0, (now + window).floor()));
        if now >= e.1 {
            *e = (0, (now + window).floor());
        }
        e
    }

    fn view(&self, used: u32, reset: f64) -> BudgetView {
        BudgetView {
            limit: self.limit,
            used,
            remaining: self.limit.saturating_sub(used),
            reset: reset as i64,
        }
    }

    pub fn reset_all(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (u32, f64)>> {
        // Entries are plain numbers updated in one step; a poisoned lock leaves them consistent.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// GitHub's message when a credential's primary budget is used up (REST 403, GraphQL
/// `RATE_LIMITED`).
pub fn exceeded_message(cred: &crate::auth::Credential) -> String {
    match cred {
        crate::auth::Credential::Installation { id } => {
            format!("API rate limit exceeded for installation ID {id}.")
        }
        _ => "API rate limit exceeded for user ID 1.".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The budget decrements, refuses at zero, and refills at reset.
    #[test]
    fn budget_decrements_refuses_and_refills() {
        let b = Budgets::new(2, 3600.0);
        assert_eq!(b.consume("k", 100.0).map(|v| v.remaining), Ok(1));
        assert_eq!(b.consume("k", 101.0).map(|v| v.remaining), Ok(0));
        assert_eq!(b.consume("k", 102.0).map_err(|v| v.reset), Err(3700));
        assert_eq!(b.peek("other", 102.0).remaining, 2);
        assert_eq!(b.consume("k", 3700.0).map(|v| v.used), Ok(1));
    }

    /// A multi-point charge is all or nothing.
    #[test]
    fn points_are_charged_whole_or_not_at_all() {
        let b = Budgets::new(5, 3600.0);
        assert_eq!(b.consume_points("k", 0.0, 3).map(|v| v.remaining), Ok(2));
        assert_eq!(
            b.consume_points("k", 1.0, 3).map_err(|v| v.remaining),
            Err(2)
        );
        assert_eq!(b.consume_points("k", 2.0, 2).map(|v| v.used), Ok(5));
    }
}
