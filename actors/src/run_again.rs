//! [`RunAgain`]: work an actor runs one at a time, where a request that arrives while it runs is
//! not lost but makes it run once more when it ends (requests in between collapse into one).
//! The StoreActor's snapshot refresh and the RoleManager's lease rounds and reconciliations
//! follow this rule.

/// The state of one such piece of work.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunAgain {
    running: bool,
    again: bool,
}

impl RunAgain {
    /// Asks for a run: `true` when the caller must start it now; `false` when one is running,
    /// and it will run once more after.
    #[must_use]
    pub fn start(&mut self) -> bool {
        if self.running {
            self.again = true;
            false
        } else {
            self.running = true;
            true
        }
    }

    /// The run ended: `true` when a request arrived meanwhile and the caller must run again.
    #[must_use]
    pub fn finish(&mut self) -> bool {
        self.running = false;
        std::mem::take(&mut self.again)
    }

    /// Whether a run is in progress.
    pub fn is_running(&self) -> bool {
        self.running
    }
}

#[cfg(test)]
mod tests {
    use super::RunAgain;

    #[test]
    fn requests_during_a_run_collapse_into_one_more_run() {
        let mut work = RunAgain::default();
        assert!(work.start(), "idle: run now");
        assert!(work.is_running());
        assert!(!work.start(), "running: later");
        assert!(!work.start(), "collapsed");
        assert!(work.finish(), "one more run");
        assert!(!work.is_running());
        assert!(work.start());
        assert!(!work.finish(), "nothing asked meanwhile");
    }
}
