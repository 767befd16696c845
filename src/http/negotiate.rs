//! `Accept` / `Accept-Encoding` negotiation for `/metrics`: OpenMetrics 1.0 when the client
//! prefers it (Prometheus does), Prometheus text 0.0.4 otherwise; gzip when accepted.

use gse_actors::exposition::Format;

/// Picks the exposition format for an `Accept` header value (absent → text 0.0.4).
///
/// Media ranges are weighed by their `q` parameter; OpenMetrics wins only with a strictly higher
/// weight than text, and a range with `q=0` is refused.
pub fn format_for_accept(accept: Option<&str>) -> Format {
    let Some(accept) = accept else {
        return Format::Text004;
    };
    let mut openmetrics_q: f32 = -1.0;
    let mut text_q: f32 = -1.0;
    for range in accept.split(',') {
        let mut parts = range.split(';').map(str::trim);
        let media = parts.next().unwrap_or("").to_ascii_lowercase();
        let mut q = 1.0f32;
        let mut version: Option<String> = None;
        for param in parts {
            let (key, value) = param.split_once('=').unwrap_or((param, ""));
            match key.trim().to_ascii_lowercase().as_str() {
                "q" => q = value.trim().parse().unwrap_or(0.0),
                "version" => version = Some(value.trim().to_string()),
                _ => {}
            }
        }
        let version_ok =
            |accepted: &[&str]| version.as_deref().is_none_or(|v| accepted.contains(&v));
        match media.as_str() {
            // We speak 1.0.0; 0.0.1 clients parse it too (same grammar for our families).
            "application/openmetrics-text" if version_ok(&["1.0.0", "0.0.1"]) => {
                openmetrics_q = openmetrics_q.max(q)
            }
            "text/plain" if version_ok(&["0.0.4"]) => text_q = text_q.max(q),
            "*/*" | "text/*" => text_q = text_q.max(q * 0.999),
            _ => {}
        }
    }
    if openmetrics_q > 0.0 && openmetrics_q > text_q {
        Format::OpenMetrics100
    } else {
        Format::Text004
    }
}

/// Whether an `Accept-Encoding` header value accepts gzip (`q=0` refuses it).
pub fn accepts_gzip(accept_encoding: Option<&str>) -> bool {
    let Some(value) = accept_encoding else {
        return false;
    };
    value.split(',').any(|coding| {
        let mut parts = coding.split(';').map(str::trim);
        let name = parts.next().unwrap_or("");
        let q = parts
            .filter_map(|p| p.split_once('='))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("q"))
            .map(|(_, v)| v.trim().parse::<f32>().unwrap_or(0.0))
            .unwrap_or(1.0);
        (name.eq_ignore_ascii_case("gzip") || name == "*") && q > 0.0
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Accept headers of real scrapers and tools pick the right format.
    #[test]
    fn negotiates_formats() {
        let cases: &[(Option<&str>, Format)] = &[
            (None, Format::Text004),
            (Some("*/*"), Format::Text004),
            (Some("text/plain"), Format::Text004),
            (Some("application/openmetrics-text"), Format::OpenMetrics100),
            // Prometheus 3 default scrape protocols.
            (
                Some("application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1"),
                Format::OpenMetrics100,
            ),
            // Prometheus 2.
            (
                Some("application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"),
                Format::OpenMetrics100,
            ),
            (Some("text/plain;version=0.0.4;q=1,application/openmetrics-text;q=0.5"), Format::Text004),
            (Some("application/openmetrics-text;q=0"), Format::Text004),
            (Some("application/openmetrics-text;version=9.9.9"), Format::Text004),
            (Some("garbage;;;q=zz"), Format::Text004),
        ];
        for (accept, expected) in cases {
            assert_eq!(format_for_accept(*accept), *expected, "Accept: {accept:?}");
        }
    }

    /// gzip is used only when accepted with a non-zero weight.
    #[test]
    fn negotiates_gzip() {
        assert!(accepts_gzip(Some("gzip")));
        assert!(accepts_gzip(Some("br, gzip;q=0.5")));
        assert!(accepts_gzip(Some("*")));
        assert!(!accepts_gzip(Some("gzip;q=0")));
        assert!(!accepts_gzip(Some("identity")));
        assert!(!accepts_gzip(None));
    }
}
