//! Tidy: rules about the source tree itself, checked on every test run (as rust-analyzer's
//! `tidy` does). Every module opens with a doc comment saying what it owns; comments cite only
//! documents that are in the repository (no "SPEC §N" or "inventory §N" of documents that are
//! not); comments state rules, and do not narrate history ("the Go version …"): notes on
//! compatibility with the Go version's wire formats live in `docs/wire-compatibility.md`.

use std::path::{Path, PathBuf};

/// Source roots whose every `.rs` file is a module that must open with `//!`.
const MODULE_ROOTS: [&str; 3] = ["src", "actors/src", "fake-github/src"];
/// Roots whose comments are checked.
const COMMENT_ROOTS: [&str; 7] = [
    "src",
    "actors/src",
    "fake-github/src",
    "fake-github/tests",
    "fake-github/benches",
    "tests",
    "benches",
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn files(roots: &[&str]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for r in roots {
        rust_files(&root().join(r), &mut out);
    }
    out.sort();
    out
}

/// The comment part of a line (`//`, `///`, `//!`), if any; string contents are not comments
/// (a `//` inside a string literal on the same line is rare and tolerated).
fn comment(line: &str) -> Option<&str> {
    let at = line.find("//")?;
    let before = &line[..at];
    // Inside a string literal when an odd number of unescaped quotes precede it.
    if before.matches('"').count() % 2 == 1 {
        return None;
    }
    Some(&line[at..])
}

fn relative(path: &Path) -> String {
    path.strip_prefix(root())
        .unwrap_or(path)
        .display()
        .to_string()
}

/// Most lines of code (tests excluded) a file of the exporter or of gse-actors may have.
const MAX_CODE_LINES: usize = 600;

/// The lines of `text` that are not test code: a file named `tests.rs` or `*_tests.rs` is all
/// tests; otherwise everything from a `#[cfg(test)]` followed by a `mod` is.
fn code_lines(path: &str, text: &str) -> usize {
    if path.ends_with("/tests.rs") || path.ends_with("_tests.rs") {
        return 0;
    }
    let lines: Vec<&str> = text.lines().collect();
    let tests_at = lines.windows(2).position(|pair| {
        pair[0].trim() == "#[cfg(test)]"
            && (pair[1].trim_start().starts_with("mod ")
                || pair[1].trim_start().starts_with("#[path"))
    });
    tests_at.unwrap_or(lines.len())
}

/// The problems tidy finds in one file's text (`path` relative to the repository root).
fn check(path: &str, text: &str, exists: &dyn Fn(&str, &str) -> bool, module: bool) -> Vec<String> {
    let mut problems = Vec::new();
    if path.starts_with("src/") || path.starts_with("actors/src/") {
        let code = code_lines(path, text);
        if code > MAX_CODE_LINES {
            problems.push(format!(
                "{path}: {code} lines of code (tests excluded), over {MAX_CODE_LINES}: split it where the split is natural"
            ));
        }
    }
    // The election and the queue talk to Redis through src/redis/, never through the store.
    if path.starts_with("src/election/") || path.starts_with("src/queue/") {
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            if code.contains("crate::store") {
                problems.push(format!(
                    "{path}:{}: imports crate::store; use crate::redis",
                    n + 1
                ));
            }
        }
    }
    if module && !text.trim_start().starts_with("//!") {
        problems.push(format!(
            "{path}: the module does not open with a `//!` doc comment"
        ));
    }
    for (n, line) in text.lines().enumerate() {
        let Some(c) = comment(line) else { continue };
        let at = format!("{path}:{}", n + 1);
        for cited in ["SPEC §", "SPEC§", "inventory §"] {
            if c.contains(cited) {
                problems.push(format!(
                    "{at}: cites `{cited}…`, a document that is not in the repository; state the rule"
                ));
            }
        }
        let lower = c.to_ascii_lowercase();
        if lower.contains("go version") || lower.contains("go inventory") {
            problems.push(format!(
                "{at}: narrates the Go version; state the rule (wire compatibility notes go to docs/wire-compatibility.md)"
            ));
        }
        for word in c.split(|ch: char| ch.is_whitespace() || "`()[]<>\"',;".contains(ch)) {
            let word = word.trim_end_matches(['.', ':']);
            if word.ends_with(".md") && !word.starts_with("http") && !exists(path, word) {
                problems.push(format!(
                    "{at}: cites {word}, which is not in the repository"
                ));
            }
        }
    }
    problems
}

/// A cited document exists relative to the repository root or to the citing file's crate.
fn document_exists(path: &str, cited: &str) -> bool {
    let crate_dir = if path.starts_with("fake-github/") {
        root().join("fake-github")
    } else if path.starts_with("actors/") {
        root().join("actors")
    } else {
        root()
    };
    root().join(cited).is_file() || crate_dir.join(cited).is_file()
}

#[test]
fn the_source_tree_is_tidy() {
    let modules: Vec<PathBuf> = files(&MODULE_ROOTS);
    let mut problems = Vec::new();
    let mut checked = 0;
    for path in files(&COMMENT_ROOTS) {
        // This file quotes the patterns it looks for.
        if path.ends_with("tests/tidy.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("read a source file");
        let module = modules.contains(&path);
        problems.extend(check(&relative(&path), &text, &document_exists, module));
        checked += 1;
    }
    assert!(checked > 100, "tidy looked at {checked} files only");
    assert!(problems.is_empty(), "tidy: {problems:#?}");
}

/// Each rule catches a planted violation (and a clean file passes).
#[test]
fn tidy_catches_planted_violations() {
    let never = |_: &str, _: &str| false;
    let always = |_: &str, _: &str| true;
    let clean = "//! Owns the widget.\n\n/// A rule, stated.\nfn f() {}\n";
    assert!(check("src/a.rs", clean, &always, true).is_empty());
    assert_eq!(check("src/a.rs", "fn f() {}\n", &always, true).len(), 1);
    assert_eq!(
        check("src/a.rs", "//! x\n// as SPEC §3 says\n", &always, true).len(),
        1
    );
    assert_eq!(
        check(
            "src/a.rs",
            "//! x\n/// the Go version kept it\n",
            &always,
            true
        )
        .len(),
        1
    );
    assert_eq!(
        check("src/a.rs", "//! x\n/// see `docs/gone.md`\n", &never, true).len(),
        1
    );
    let long = format!("//! x\n{}", "fn f() {}\n".repeat(MAX_CODE_LINES));
    assert_eq!(check("src/a.rs", &long, &always, true).len(), 1);
    assert!(check("src/tests.rs", &long, &always, true).is_empty());
    let tested = format!(
        "//! x\n#[cfg(test)]\nmod tests {{\n{}}}\n",
        "fn t() {}\n".repeat(700)
    );
    assert!(
        check("src/a.rs", &tested, &always, true).is_empty(),
        "tests do not count"
    );
    assert_eq!(
        check(
            "src/queue/a.rs",
            "//! x\nuse crate::store::redis;\n",
            &always,
            true
        )
        .len(),
        1
    );
    assert!(
        check(
            "src/a.rs",
            "//! x\nlet s = \"// SPEC §3\";\n",
            &always,
            true
        )
        .is_empty(),
        "string contents are not comments"
    );
}

/// The entry points stay small: the crate root lists modules, the map fits on two screens.
#[test]
fn the_crate_root_and_the_map_stay_short() {
    for (file, max) in [("src/lib.rs", 150), ("ARCHITECTURE.md", 150)] {
        let text = std::fs::read_to_string(root().join(file)).expect("read");
        let lines = text.lines().count();
        assert!(lines <= max, "{file} has {lines} lines, over {max}");
    }
}
