//! Key names of the Redis metric store. Every key lives under `<namespace>:`, so several
//! deployments (and every test) share one Redis without touching each other.

/// The key names of one namespace.
#[derive(Debug, Clone)]
pub struct Keys {
    prefix: String,
}

impl Keys {
    pub fn new(namespace: &str) -> Keys {
        Keys {
            prefix: format!("{namespace}:"),
        }
    }

    fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// STRING: one scraper state value (see `state.rs`), e.g. `scrape/<org>`.
    pub fn scrape_state(&self, key: &str) -> String {
        self.key(&format!("scrape-state:{key}"))
    }
    /// STRING: data version, incremented on every visible change.
    pub fn version(&self) -> String {
        self.key("version")
    }
    /// STRING: random token set once per Redis dataset; a new one means the data was lost.
    pub fn incarnation(&self) -> String {
        self.key("incarnation")
    }
    /// STRING: generation counter; each staged org batch takes a fresh generation.
    pub fn generation(&self) -> String {
        self.key("generation")
    }
    /// HASH: org → pointer to its committed generation (see `wire::Pointer`).
    pub fn orgs(&self) -> String {
        self.key("orgs")
    }
    /// ZSET: org → Unix ms after which it expires (retention).
    pub fn expiry(&self) -> String {
        self.key("expiry")
    }
    /// STRING: committed series across all orgs, for the O(1) budget check.
    pub fn total(&self) -> String {
        self.key("total")
    }
    /// HASH: shared counters (`wire::counter_field`) → value.
    pub fn counters(&self) -> String {
        self.key("counters")
    }
    /// ZSET: id of each applied counter packet → Redis `TIME` (ms) of its commit; trimmed to
    /// `counter_packet_window` by every commit (exactly-once counter increments).
    pub fn counter_packets(&self) -> String {
        self.key("counter-packets")
    }
    /// STRING: one chunk of a generation's encoded series.
    pub fn chunk(&self, generation: u64, index: usize) -> String {
        format!("{}chunk:{generation}:{index}", self.prefix)
    }
}
