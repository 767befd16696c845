//! The streaming reader of Copilot report files: a byte scanner that cuts a stream of
//! whitespace-separated JSON values (NDJSON, one pretty-printed object, several objects in a
//! row) into complete values, across chunk and file boundaries, in bounded memory.
//!
//! The scanner tracks nesting depth, strings and escapes only; it never builds a tree. A value
//! that ends inside the chunk it started in is handed out as a slice of that chunk (no copy);
//! one that spans chunks is gathered in a buffer that never grows past `max_value_bytes` — a
//! longer value is skipped to its end and counted as malformed. Broken input resynchronises at
//! the next line: a raw newline inside a string (never valid JSON) ends the value, and so does a
//! `{` at the start of a line while a value is open (a truncated line followed by the next
//! record) — in NDJSON (users reports) always, elsewhere only where JSON cannot open an object
//! (after anything but `[`, `,` or `:`), so pretty-printed reports without indentation read
//! whole. Whatever the scanner hands out is decoded by the caller (serde), whose failures are
//! the caller's malformed count.

/// Where the scanner is between bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between values.
    Between,
    /// Inside an object or array (depth ≥ 1), outside strings.
    Container,
    /// Inside a string of a container.
    String,
    /// Just after a backslash inside a string.
    Escape,
    /// A bare top-level token (number, literal, garbage) running to whitespace.
    Bare,
    /// A top-level string.
    TopString,
    /// Just after a backslash in a top-level string.
    TopEscape,
}

/// Cuts a byte stream into JSON values. Feed chunks with [`ValueScanner::push`], then call
/// [`ValueScanner::finish`] at the end of the stream.
#[derive(Debug)]
pub struct ValueScanner {
    state: State,
    depth: u32,
    /// The previous byte was a newline (outside strings): a `{` here starts a new record,
    /// unless JSON allows a value here.
    line_start: bool,
    /// The last significant byte of the open container was `[`, `,` or `:`, the only places
    /// where valid JSON may open an object; a `{` at a line start anywhere else means the open
    /// value was cut off (so pretty-printed JSON without indentation still reads as one value).
    value_expected: bool,
    /// NDJSON: every `{` at a line start starts a record, wherever JSON would allow it.
    lines: bool,
    /// Bytes of the open value gathered from earlier chunks.
    buf: Vec<u8>,
    /// The open value passed `max_value_bytes`: its bytes are dropped until it ends.
    oversized: bool,
    max_value_bytes: usize,
    /// Values skipped by the scanner itself (too large, cut by a newline, cut by the end).
    malformed: u64,
}

impl ValueScanner {
    /// A scanner for NDJSON (users reports): a `{` at the start of a line always starts a new
    /// record, so a truncated line costs only itself. Skips any value longer than
    /// `max_value_bytes`.
    pub fn ndjson(max_value_bytes: usize) -> ValueScanner {
        ValueScanner {
            lines: true,
            ..ValueScanner::values(max_value_bytes)
        }
    }

    /// A scanner for any whitespace-separated JSON values (organization reports, which may be
    /// pretty-printed, with or without indentation): a `{` at a line start ends an open value
    /// only where JSON cannot open an object. Skips any value longer than `max_value_bytes`.
    pub fn values(max_value_bytes: usize) -> ValueScanner {
        ValueScanner {
            lines: false,
            state: State::Between,
            depth: 0,
            line_start: true,
            value_expected: false,
            buf: Vec::new(),
            oversized: false,
            max_value_bytes: max_value_bytes.max(16),
            malformed: 0,
        }
    }

    /// Values the scanner skipped (too large or cut off).
    pub fn malformed(&self) -> u64 {
        self.malformed
    }

    /// Bytes held for the open value (for memory accounting).
    pub fn buffered(&self) -> usize {
        self.buf.capacity()
    }

    /// Scans `chunk`, calling `emit` with every value that ends in it.
    pub fn push(&mut self, chunk: &[u8], emit: &mut dyn FnMut(&[u8])) {
        // Start of the open value inside this chunk, when it started here.
        let mut start: Option<usize> = if self.state == State::Between {
            None
        } else {
            Some(0)
        };
        let from_earlier = self.state != State::Between;
        let mut carried = from_earlier;
        let mut i = 0;
        let n = chunk.len();
        while i < n {
            let b = chunk[i];
            match self.state {
                State::Between => {
                    match b {
                        b' ' | b'\t' | b'\r' => {}
                        b'\n' => self.line_start = true,
                        b'{' | b'[' => {
                            self.state = State::Container;
                            self.depth = 1;
                            self.value_expected = b == b'[';
                            start = Some(i);
                            carried = false;
                        }
                        b'"' => {
                            self.state = State::TopString;
                            start = Some(i);
                            carried = false;
                        }
                        _ => {
                            self.state = State::Bare;
                            start = Some(i);
                            carried = false;
                        }
                    }
                    if b != b'\n' && !b.is_ascii_whitespace() {
                        self.line_start = false;
                    }
                }
                State::Container => match b {
                    b'"' => {
                        self.state = State::String;
                        self.line_start = false;
                    }
                    b'{' if self.line_start && (self.lines || !self.value_expected) => {
                        // A record starts at the beginning of a line while one is open: the
                        // open one was truncated. Skip it and start over here.
                        self.drop_open();
                        self.state = State::Container;
                        self.depth = 1;
                        self.line_start = false;
                        self.value_expected = false;
                        start = Some(i);
                        carried = false;
                    }
                    b'{' | b'[' => {
                        self.depth += 1;
                        self.line_start = false;
                        self.value_expected = b == b'[';
                    }
                    b'}' | b']' => {
                        self.line_start = false;
                        self.value_expected = false;
                        self.depth -= 1;
                        if self.depth == 0 {
                            self.complete(chunk, start, carried, i + 1, emit);
                            start = None;
                            carried = false;
                        }
                    }
                    b'\n' => self.line_start = true,
                    b' ' | b'\t' | b'\r' => self.line_start = false,
                    _ => {
                        self.line_start = false;
                        // Skip plain bytes (numbers, literals, separators) quickly.
                        let mut j = i + 1;
                        while j < n
                            && !matches!(
                                chunk[j],
                                b'"' | b'{' | b'[' | b'}' | b']' | b'\n' | b' ' | b'\t' | b'\r'
                            )
                        {
                            j += 1;
                        }
                        self.value_expected = matches!(chunk[j - 1], b',' | b':');
                        i = j;
                        continue;
                    }
                },
                State::String | State::TopString => {
                    // Fast path: jump to the next quote, backslash or newline.
                    let mut j = i;
                    while j < n && !matches!(chunk[j], b'"' | b'\\' | b'\n') {
                        j += 1;
                    }
                    if j == n {
                        i = n;
                        continue;
                    }
                    let top = self.state == State::TopString;
                    match chunk[j] {
                        b'"' => {
                            if top {
                                self.complete(chunk, start, carried, j + 1, emit);
                                start = None;
                                carried = false;
                            } else {
                                self.state = State::Container;
                                self.value_expected = false;
                            }
                        }
                        b'\\' => self.state = if top { State::TopEscape } else { State::Escape },
                        _ => {
                            // A raw newline never occurs inside a JSON string: the value is
                            // broken. Skip it; the newline starts the next line.
                            self.drop_open();
                            start = None;
                            carried = false;
                            self.line_start = true;
                        }
                    }
                    i = j + 1;
                    continue;
                }
                State::Escape => self.state = State::String,
                State::TopEscape => self.state = State::TopString,
                State::Bare => {
                    if b.is_ascii_whitespace() || matches!(b, b'{' | b'[' | b'"') {
                        self.complete(chunk, start, carried, i, emit);
                        start = None;
                        carried = false;
                        // Re-scan this byte between values.
                        continue;
                    }
                }
            }
            i += 1;
        }
        // The chunk ended inside a value: keep its bytes (within the cap).
        if self.state != State::Between {
            let from = start.unwrap_or(0);
            self.gather(&chunk[from..]);
        }
    }

    /// Ends the stream: an open value is cut off (a bare token ends here and is handed out).
    pub fn finish(&mut self, emit: &mut dyn FnMut(&[u8])) {
        match self.state {
            State::Between => {}
            State::Bare if !self.oversized => {
                let value = std::mem::take(&mut self.buf);
                emit(&value);
            }
            _ => self.malformed += 1,
        }
        self.reset();
    }

    /// The open value ends at `end` of `chunk`: hand it out (or count it when oversized).
    fn complete(
        &mut self,
        chunk: &[u8],
        start: Option<usize>,
        carried: bool,
        end: usize,
        emit: &mut dyn FnMut(&[u8]),
    ) {
        let from = if carried { 0 } else { start.unwrap_or(0) };
        if self.oversized {
            self.malformed += 1;
        } else if self.buf.is_empty() {
            if end - from > self.max_value_bytes {
                self.malformed += 1;
            } else {
                emit(&chunk[from..end]);
            }
        } else {
            self.gather(&chunk[from..end]);
            if self.oversized {
                self.malformed += 1;
            } else {
                emit(&self.buf);
            }
        }
        self.reset();
    }

    /// Adds bytes of the open value to the buffer, or drops them past the cap.
    fn gather(&mut self, bytes: &[u8]) {
        if self.oversized {
            return;
        }
        if self.buf.len() + bytes.len() > self.max_value_bytes {
            self.oversized = true;
            self.buf = Vec::new();
        } else {
            self.buf.extend_from_slice(bytes);
        }
    }

    /// Skips the open value as malformed.
    fn drop_open(&mut self) {
        self.malformed += 1;
        self.reset();
    }

    fn reset(&mut self) {
        self.state = State::Between;
        self.depth = 0;
        self.oversized = false;
        self.buf.clear();
        // Do not keep a large buffer between values.
        if self.buf.capacity() > 1 << 20 {
            self.buf = Vec::new();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn scan(chunks: &[&[u8]], cap: usize) -> (Vec<String>, u64) {
        scan_with(ValueScanner::ndjson(cap), chunks)
    }

    fn scan_with(mut scanner: ValueScanner, chunks: &[&[u8]]) -> (Vec<String>, u64) {
        let mut out = Vec::new();
        for chunk in chunks {
            scanner.push(chunk, &mut |v| {
                out.push(String::from_utf8_lossy(v).into_owned())
            });
        }
        scanner.finish(&mut |v| out.push(String::from_utf8_lossy(v).into_owned()));
        (out, scanner.malformed())
    }

    #[test]
    fn ndjson_and_pretty_values() {
        let text = b"{\"a\":1}\n{\"b\":\"x}y\\\"z\"}\n\n{\n  \"c\": [1, {\"d\": 2}]\n}\n";
        let (values, malformed) = scan(&[text], 1 << 20);
        assert_eq!(
            values,
            vec![
                "{\"a\":1}",
                "{\"b\":\"x}y\\\"z\"}",
                "{\n  \"c\": [1, {\"d\": 2}]\n}"
            ]
        );
        assert_eq!(malformed, 0);
    }

    #[test]
    fn truncated_line_is_skipped_and_the_next_record_is_read() {
        let text = b"{\"a\":1,\"b\":{\"c\":\n{\"d\":2}\n{\"e\":\"cut\n{\"f\":3}\n";
        let (values, malformed) = scan(&[text], 1 << 20);
        assert_eq!(values, vec!["{\"d\":2}", "{\"f\":3}"]);
        assert_eq!(malformed, 2);
    }

    /// Pretty-printed without indentation (e.g. Python's `indent=0`), nested objects open at
    /// the start of a line; outside NDJSON that is one value, and a line cut where JSON cannot
    /// open an object still resynchronises.
    #[test]
    fn unindented_pretty_json_is_one_value_outside_ndjson() {
        let text =
            b"{\n\"day_totals\": [\n{\n\"day\": \"2026-11-30\",\n\"x\":\n{\n\"y\": 1\n}\n}\n]\n}\n";
        let (values, malformed) = scan_with(ValueScanner::values(1 << 20), &[text]);
        assert_eq!(values.len(), 1, "{values:?}");
        assert_eq!(malformed, 0);
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&values[0]).expect("whole value")
                ["day_totals"][0]["x"]["y"],
            1
        );
        let cut = b"{\"a\": 1, \"b\": 2\n{\"c\": 3}\n";
        let (values, malformed) = scan_with(ValueScanner::values(1 << 20), &[cut]);
        assert_eq!(values, vec!["{\"c\": 3}"]);
        assert_eq!(malformed, 1);
    }

    #[test]
    fn bare_tokens_are_handed_out_for_the_decoder_to_judge() {
        let (values, malformed) = scan(&[b"garbage {\"a\":1} 42"], 1 << 20);
        assert_eq!(values, vec!["garbage", "{\"a\":1}", "42"]);
        assert_eq!(malformed, 0);
    }

    #[test]
    fn a_value_over_the_cap_is_skipped_without_buffering_it() {
        let big = format!("{{\"a\":\"{}\"}}", "x".repeat(1000));
        let text = format!("{{\"s\":1}}\n{big}\n{{\"t\":2}}\n");
        // In one chunk and in many small ones.
        let (values, malformed) = scan(&[text.as_bytes()], 100);
        assert_eq!(values, vec!["{\"s\":1}", "{\"t\":2}"]);
        assert_eq!(malformed, 1);
        let chunks: Vec<&[u8]> = text.as_bytes().chunks(7).collect();
        let mut scanner = ValueScanner::ndjson(100);
        let mut seen = Vec::new();
        for chunk in &chunks {
            scanner.push(chunk, &mut |v| seen.push(v.to_vec()));
            assert!(scanner.buf.len() <= 100);
        }
        scanner.finish(&mut |v| seen.push(v.to_vec()));
        assert_eq!(seen.len(), 2);
        assert_eq!(scanner.malformed(), 1);
    }

    #[test]
    fn an_unterminated_value_at_the_end_is_malformed() {
        let (values, malformed) = scan(&[b"{\"a\":1}\n{\"b\":"], 1 << 20);
        assert_eq!(values, vec!["{\"a\":1}"]);
        assert_eq!(malformed, 1);
    }

    fn record() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            any::<i64>().prop_map(serde_json::Value::from),
            "[a-z{}\\[\\]\"\\\\ ]{0,8}".prop_map(serde_json::Value::from),
            Just(serde_json::Value::Null),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
                prop::collection::btree_map("[a-z]{1,4}", inner, 0..4)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
        .prop_map(|v| serde_json::json!({ "v": v }))
    }

    proptest! {
        /// Whatever the chunking and formatting, every value comes out whole and unchanged.
        #[test]
        fn chunk_boundaries_anywhere(
            values in prop::collection::vec(record(), 1..6),
            pretty in any::<bool>(),
            cuts in prop::collection::vec(0usize..400, 0..8),
        ) {
            let mut text = Vec::new();
            for v in &values {
                let s = if pretty {
                    serde_json::to_vec_pretty(v).unwrap()
                } else {
                    serde_json::to_vec(v).unwrap()
                };
                text.extend_from_slice(&s);
                text.push(b'\n');
            }
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(text.len())).collect();
            cuts.sort_unstable();
            let mut chunks = Vec::new();
            let mut last = 0;
            for c in cuts {
                chunks.push(&text[last..c]);
                last = c;
            }
            chunks.push(&text[last..]);
            let mut scanner = if pretty { ValueScanner::values(1 << 20) } else { ValueScanner::ndjson(1 << 20) };
            let mut out = Vec::new();
            for chunk in &chunks {
                scanner.push(chunk, &mut |v| {
                    out.push(serde_json::from_slice::<serde_json::Value>(v).unwrap())
                });
            }
            scanner.finish(&mut |v| out.push(serde_json::from_slice(v).unwrap()));
            prop_assert_eq!(out, values);
            prop_assert_eq!(scanner.malformed(), 0);
        }
    }
}
