//! Parsing a Copilot `users-28-day` report: ~200 MB of realistic NDJSON (one row per user per
//! day, with every breakdown array) generated in memory, then read through the real streaming
//! reader ([`ValueScanner`](gse_actors::copilot::reader::ValueScanner)) and per-user
//! reduction in 64 KiB chunks, as downloads arrive. Reports throughput (goal ≥ 150 MB/s) and
//! the peak of memory allocated during the parse beyond what was allocated before it (goal
//! ≤ 16 MB), measured by a counting global allocator.
//!
//! `cargo bench --bench copilot_parse` (release). `COPILOT_BENCH_MB` (default 200) sets the
//! report size, `COPILOT_BENCH_USERS` (default 5000) the users.

use std::alloc::{GlobalAlloc, Layout, System};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use gse_actors::copilot::sinks::reduce_users;

/// Counts live bytes and their peak.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const IDES: [&str; 4] = ["vscode", "jetbrains", "visualstudio", "neovim"];
const FEATURES: [&str; 5] = [
    "code_completion",
    "agent_edit",
    "chat_panel_ask_mode",
    "chat_panel_agent_mode",
    "copilot_cli",
];
const LANGUAGES: [&str; 6] = ["rust", "go", "python", "typescript", "java", "markdown"];
const MODELS: [&str; 3] = ["gpt-4.1", "claude-sonnet-4", "gemini-2.5-pro"];

fn counters(out: &mut String, seed: u64) {
    let _ = write!(
        out,
        "\"code_generation_activity_count\":{},\"code_acceptance_activity_count\":{},\
         \"loc_suggested_to_add_sum\":{},\"loc_suggested_to_delete_sum\":{},\
         \"loc_added_sum\":{},\"loc_deleted_sum\":{}",
        seed % 97,
        seed % 41,
        seed % 613,
        seed % 87,
        seed % 301,
        seed % 53
    );
}

/// One realistic `users-28-day` row (≈ 1.5 KB).
fn row(out: &mut String, user: u64, day: u64) {
    let seed = user.wrapping_mul(2_654_435_761).wrapping_add(day * 97);
    let _ = write!(
        out,
        "{{\"report_start_day\":\"2026-11-01\",\"report_end_day\":\"2026-11-28\",\
         \"day\":\"2026-11-{:02}\",\"organization_id\":\"4711\",\"enterprise_id\":\"99\",\
         \"user_id\":{},\"user_login\":\"user-{user}\",\"ai_credits_used\":{}.25,\
         \"ai_adoption_phase\":{{\"phase\":\"exploring\",\"phase_number\":2,\"version\":\"v1\"}},\
         \"user_initiated_interaction_count\":{},",
        day + 1,
        1_000_000 + user,
        seed % 13,
        seed % 29
    );
    counters(out, seed);
    out.push_str(",\"totals_by_ide\":[");
    for (i, ide) in IDES.iter().take(2).enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(
            out,
            "{{\"ide\":\"{ide}\",\"user_initiated_interaction_count\":{},\
             \"last_known_ide_version\":\"1.9{i}.0\",\"last_known_plugin_version\":\"1.3{i}\",",
            seed % 7
        );
        counters(out, seed + i as u64);
        out.push('}');
    }
    out.push_str("],\"totals_by_feature\":[");
    for (i, f) in FEATURES.iter().take(3).enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(
            out,
            "{{\"feature\":\"{f}\",\"user_initiated_interaction_count\":{},",
            seed % 5
        );
        counters(out, seed + 7 * i as u64);
        out.push('}');
    }
    out.push_str("],\"totals_by_language_model\":[");
    for (i, l) in LANGUAGES.iter().take(2).enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(
            out,
            "{{\"language\":\"{l}\",\"model\":\"{}\",",
            MODELS[i % 3]
        );
        counters(out, seed + 3 * i as u64);
        out.push('}');
    }
    let _ = writeln!(
        out,
        "],\"used_agent\":true,\"used_chat\":{},\"used_cli\":false,\"used_copilot_app\":null,\
         \"used_copilot_cloud_agent\":false,\"used_copilot_coding_agent\":false,\
         \"used_copilot_code_review_active\":false,\"used_copilot_code_review_passive\":null}}",
        seed % 2 == 0
    );
}

fn main() {
    let target_mb: usize = std::env::var("COPILOT_BENCH_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let users: u64 = std::env::var("COPILOT_BENCH_USERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5000);
    let target = target_mb << 20;
    let mut report = String::with_capacity(target + (4 << 10));
    let mut rows = 0u64;
    // Day-major order (as GitHub writes them), repeated until the size is reached.
    'fill: loop {
        for day in 0..28 {
            for user in 0..users {
                row(&mut report, user, day);
                rows += 1;
                if report.len() >= target {
                    break 'fill;
                }
            }
        }
    }
    let bytes = report.as_bytes();
    let mb = bytes.len() as f64 / (1 << 20) as f64;
    println!(
        "copilot_parse: {rows} rows, {mb:.1} MB, {:.0} bytes/row",
        bytes.len() as f64 / rows as f64
    );
    for round in 0..3 {
        let before = LIVE.load(Ordering::Relaxed);
        PEAK.store(before, Ordering::Relaxed);
        let started = Instant::now();
        let (kept, malformed) = reduce_users(bytes.chunks(64 << 10), 8 << 20);
        let secs = started.elapsed().as_secs_f64();
        let peak_extra = PEAK.load(Ordering::Relaxed).saturating_sub(before);
        assert_eq!(malformed, 0, "a generated row was rejected");
        assert_eq!(kept as u64, users.min(rows), "every user kept");
        println!(
            "round {round}: {:.0} MB/s ({secs:.2} s), peak extra memory {:.2} MB, {kept} users",
            mb / secs,
            peak_extra as f64 / (1 << 20) as f64
        );
    }
}
