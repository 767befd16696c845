//! Prometheus exposition: turns sorted metric families into the text format 0.0.4 or
//! OpenMetrics 1.0 bytes, and keeps the rendered bodies (plain and gzip) as shared immutable
//! bytes so that serving `/metrics` costs a clone of an `Arc`, never a render.
//!
//! Label sets are escaped and rendered once, when a series enters the snapshot
//! ([`LabelSet::render`]); rendering a body is then a single linear pass that copies bytes and
//! formats numbers, with no per-series allocation.

use std::io::Write;

use bytes::Bytes;

/// The two exposition formats `/metrics` negotiates between.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text format 0.0.4.
    Text004,
    /// OpenMetrics text 1.0.0 (ends with `# EOF`).
    OpenMetrics100,
}

impl Format {
    /// The exact `Content-Type` header value for this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text004 => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics100 => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// Metric type as exposed in `# TYPE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum MetricKind {
    Gauge,
    /// A monotonic counter. The family name carries no `_total`; samples get it appended.
    Counter,
}

/// An escaped, rendered label set such as `{org="a",repo="b"}` (empty string when no labels).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct LabelSet(Box<str>);

impl LabelSet {
    /// Renders `pairs` (which must already be sorted by label name) with escaping of `\`, `"`
    /// and newlines in values.
    pub fn render<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> LabelSet {
        if pairs.is_empty() {
            return LabelSet::default();
        }
        let mut out = String::with_capacity(pairs.len() * 24);
        out.push('{');
        for (i, (k, v)) in pairs.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(k.as_ref());
            out.push_str("=\"");
            for c in v.as_ref().chars() {
                match c {
                    '\\' => out.push_str("\\\\"),
                    '"' => out.push_str("\\\""),
                    '\n' => out.push_str("\\n"),
                    c => out.push(c),
                }
            }
            out.push('"');
        }
        out.push('}');
        LabelSet(out.into_boxed_str())
    }

    /// The rendered text, including braces.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One series of a family: its rendered labels and value.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub labels: LabelSet,
    pub value: f64,
}

/// A metric family: name (without `_total` for counters), help, kind, and its series sorted by
/// labels.
#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    pub name: String,
    pub help: String,
    pub kind: MetricKind,
    pub series: Vec<Series>,
}

/// Renders `families` (sorted by name, series sorted by labels) in `format`.
pub fn render(families: &[Family], format: Format) -> Vec<u8> {
    let estimate: usize = families
        .iter()
        .map(|f| {
            128 + f.series.len()
                * (f.name.len() + 48 + f.series.first().map_or(0, |s| s.labels.0.len()))
        })
        .sum();
    let mut out = Vec::with_capacity(estimate + 16);
    for family in families {
        render_family(&mut out, family, format);
    }
    if format == Format::OpenMetrics100 {
        out.extend_from_slice(b"# EOF\n");
    }
    out
}

fn render_family(out: &mut Vec<u8>, family: &Family, format: Format) {
    if family.series.is_empty() {
        return;
    }
    let (type_name, suffix): (&[u8], &[u8]) = match family.kind {
        MetricKind::Gauge => (b"gauge", b""),
        MetricKind::Counter => (b"counter", b"_total"),
    };
    // Text 0.0.4 names the counter family with its `_total`; OpenMetrics names it without.
    let header_suffix: &[u8] = if format == Format::Text004 {
        suffix
    } else {
        b""
    };
    out.extend_from_slice(b"# HELP ");
    out.extend_from_slice(family.name.as_bytes());
    out.extend_from_slice(header_suffix);
    out.push(b' ');
    push_escaped_help(out, &family.help);
    out.extend_from_slice(b"\n# TYPE ");
    out.extend_from_slice(family.name.as_bytes());
    out.extend_from_slice(header_suffix);
    out.push(b' ');
    out.extend_from_slice(type_name);
    out.push(b'\n');
    let mut ints = itoa::Buffer::new();
    let mut floats = ryu::Buffer::new();
    for series in &family.series {
        out.extend_from_slice(family.name.as_bytes());
        out.extend_from_slice(suffix);
        out.extend_from_slice(series.labels.0.as_bytes());
        out.push(b' ');
        push_value(out, series.value, &mut ints, &mut floats);
        out.push(b'\n');
    }
}

fn push_escaped_help(out: &mut Vec<u8>, help: &str) {
    for b in help.bytes() {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b => out.push(b),
        }
    }
}

fn push_value(out: &mut Vec<u8>, value: f64, ints: &mut itoa::Buffer, floats: &mut ryu::Buffer) {
    if value.is_nan() {
        out.extend_from_slice(b"NaN");
    } else if value.is_infinite() {
        out.extend_from_slice(if value > 0.0 { b"+Inf" } else { b"-Inf" });
    } else if value.fract() == 0.0 && value.abs() < 9.0e15 {
        out.extend_from_slice(ints.format(value as i64).as_bytes());
    } else {
        out.extend_from_slice(floats.format_finite(value).as_bytes());
    }
}

/// A rendered body in one format, kept gzip-compressed only: Prometheus always accepts gzip,
/// and the plain body is several times larger (at 60,000 series, about 8 MB per format that
/// would stay resident). A client that does not accept gzip gets it decompressed per request.
#[derive(Debug, Clone)]
pub struct Body {
    pub gzip: Bytes,
    /// Length of the plain body.
    pub plain_len: usize,
}

impl Body {
    fn new(plain: &[u8]) -> Body {
        Body {
            gzip: gzip(plain),
            plain_len: plain.len(),
        }
    }

    /// The plain body (decompressed from `gzip`; our own output, so it always decodes).
    pub fn plain(&self) -> Bytes {
        let mut out = Vec::with_capacity(self.plain_len);
        let mut decoder = flate2::read::GzDecoder::new(&self.gzip[..]);
        match std::io::Read::read_to_end(&mut decoder, &mut out) {
            Ok(_) => Bytes::from(out),
            Err(error) => {
                tracing::error!(error = %error, "cannot decompress a rendered exposition body");
                Bytes::new()
            }
        }
    }
}

/// Both formats of one snapshot, ready to serve.
#[derive(Debug, Clone)]
pub struct RenderedExposition {
    pub text: Body,
    pub openmetrics: Body,
    /// Number of series in the snapshot.
    pub series: usize,
    /// Store version the snapshot was built from (0 = nothing loaded yet).
    pub version: u64,
}

impl RenderedExposition {
    /// The body for `format`.
    pub fn body(&self, format: Format) -> &Body {
        match format {
            Format::Text004 => &self.text,
            Format::OpenMetrics100 => &self.openmetrics,
        }
    }

    /// Renders and compresses both formats. CPU-bound: callers run it off the actor thread.
    pub fn build(families: &[Family], version: u64) -> RenderedExposition {
        let series = families.iter().map(|f| f.series.len()).sum();
        // One plain body at a time: each is dropped once compressed.
        let text = Body::new(&render(families, Format::Text004));
        let openmetrics = Body::new(&render(families, Format::OpenMetrics100));
        RenderedExposition {
            text,
            openmetrics,
            series,
            version,
        }
    }

    /// A valid, empty exposition (before the first snapshot is loaded).
    pub fn empty() -> RenderedExposition {
        RenderedExposition::build(&[], 0)
    }
}

/// Compresses `data` with gzip at a fast level: the body is compressed once per refresh.
pub fn gzip(data: &[u8]) -> Bytes {
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(data.len() / 6 + 64),
        flate2::Compression::fast(),
    );
    // Writing into a Vec cannot fail.
    encoder
        .write_all(data)
        .expect("writing to a Vec never fails");
    Bytes::from(
        encoder
            .finish()
            .expect("finishing a Vec-backed encoder never fails"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn family(name: &str, kind: MetricKind, series: &[(&[(&str, &str)], f64)]) -> Family {
        Family {
            name: name.into(),
            help: "Help with \\ and\nnewline.".into(),
            kind,
            series: series
                .iter()
                .map(|(labels, value)| Series {
                    labels: LabelSet::render(labels),
                    value: *value,
                })
                .collect(),
        }
    }

    /// Both formats produce the exact expected bytes, including counter suffixes and `# EOF`.
    #[test]
    fn renders_text_and_openmetrics_exactly() {
        let families = vec![
            family(
                "gh_activity_commits_24h",
                MetricKind::Gauge,
                &[(&[("org", "a"), ("repo", "r\"x"), ("user", "u\\1")], 3.0)],
            ),
            family(
                "gh_exporter_scrape_runs",
                MetricKind::Counter,
                &[(&[("org", "a"), ("result", "success")], 2.5)],
            ),
            family("gh_exporter_empty", MetricKind::Gauge, &[]),
        ];
        let text = String::from_utf8(render(&families, Format::Text004)).unwrap();
        assert_eq!(
            text,
            "# HELP gh_activity_commits_24h Help with \\\\ and\\nnewline.\n\
             # TYPE gh_activity_commits_24h gauge\n\
             gh_activity_commits_24h{org=\"a\",repo=\"r\\\"x\",user=\"u\\\\1\"} 3\n\
             # HELP gh_exporter_scrape_runs_total Help with \\\\ and\\nnewline.\n\
             # TYPE gh_exporter_scrape_runs_total counter\n\
             gh_exporter_scrape_runs_total{org=\"a\",result=\"success\"} 2.5\n"
        );
        let om = String::from_utf8(render(&families, Format::OpenMetrics100)).unwrap();
        assert!(
            om.contains("# TYPE gh_exporter_scrape_runs counter\ngh_exporter_scrape_runs_total{")
        );
        assert!(om.ends_with("# EOF\n"));
    }

    /// Special float values use the spellings Prometheus parses.
    #[test]
    fn formats_special_values() {
        let f = family(
            "m",
            MetricKind::Gauge,
            &[
                (&[("a", "1")], f64::NAN),
                (&[("a", "2")], f64::INFINITY),
                (&[("a", "3")], -0.25),
                (&[("a", "4")], 1.7e300),
            ],
        );
        let text = String::from_utf8(render(&[f], Format::Text004)).unwrap();
        assert!(text.contains("m{a=\"1\"} NaN\n"));
        assert!(text.contains("m{a=\"2\"} +Inf\n"));
        assert!(text.contains("m{a=\"3\"} -0.25\n"));
        assert!(text.contains("m{a=\"4\"} 1.7e300\n"));
    }

    /// The gzip body decompresses to the plain body.
    #[test]
    fn gzip_body_round_trips() {
        use std::io::Read;
        let f = family("m", MetricKind::Gauge, &[(&[("a", "1")], 1.0)]);
        let rendered = RenderedExposition::build(&[f], 7);
        let mut out = String::new();
        flate2::read::GzDecoder::new(&rendered.text.gzip[..])
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out.as_bytes(), &rendered.text.plain()[..]);
        assert_eq!(rendered.series, 1);
    }
}
