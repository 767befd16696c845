//! The fake's notion of "now": wall-clock time plus an offset, or a fixed instant, both movable
//! through `POST /_fake/clock`. Every time-dependent answer (visible activity, budgets, token
//! expiry, JWT checks, burst windows) reads this one clock.

use std::sync::Mutex;

use crate::config::Clock;
use crate::timefmt::system_now;

#[derive(Debug)]
pub struct FakeClock {
    state: Mutex<ClockState>,
}

#[derive(Debug, Clone, Copy)]
enum ClockState {
    Real { offset: f64 },
    Fixed { now: f64 },
}

impl FakeClock {
    pub fn new(clock: Clock) -> Self {
        let state = match clock {
            Clock::Real => ClockState::Real { offset: 0.0 },
            Clock::Fixed(now) => ClockState::Fixed { now },
        };
        FakeClock {
            state: Mutex::new(state),
        }
    }

    /// Current instant in Unix seconds.
    pub fn now(&self) -> f64 {
        match *self.lock() {
            ClockState::Real { offset } => system_now() + offset,
            ClockState::Fixed { now } => now,
        }
    }

    /// "fixed" or "real".
    pub fn mode(&self) -> &'static str {
        match *self.lock() {
            ClockState::Real { .. } => "real",
            ClockState::Fixed { .. } => "fixed",
        }
    }

    /// Moves the clock forward (or back, for a negative value).
    pub fn advance(&self, secs: f64) {
        match &mut *self.lock() {
            ClockState::Real { offset } => *offset += secs,
            ClockState::Fixed { now } => *now += secs,
        }
    }

    /// Sets "now"; a real clock keeps ticking from there.
    pub fn set(&self, to: f64) {
        let mut state = self.lock();
        match &mut *state {
            ClockState::Real { offset } => *offset = to - system_now(),
            ClockState::Fixed { now } => *now = to,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ClockState> {
        // A poisoned clock mutex only means a panic elsewhere; the Copy state inside is intact.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}
