//! Reads samples back from a rendered Prometheus text (0.0.4) exposition, for the status page,
//! which shows per-org figures the scrapers publish only as metrics.

/// One sample line: `name{labels} value`.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

impl Sample {
    /// The value of label `key`, if present.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Samples of `text` whose metric name satisfies `wanted`; malformed lines are skipped.
pub fn parse(text: &str, wanted: impl Fn(&str) -> bool) -> Vec<Sample> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let end = line.find(['{', ' '])?;
            let name = &line[..end];
            if !wanted(name) {
                return None;
            }
            parse_line(name, &line[end..])
        })
        .collect()
}

fn parse_line(name: &str, rest: &str) -> Option<Sample> {
    let (labels, rest) = match rest.strip_prefix('{') {
        Some(inner) => parse_labels(inner)?,
        None => (Vec::new(), rest),
    };
    let value = rest.split_whitespace().next()?.parse().ok()?;
    Some(Sample {
        name: name.to_string(),
        labels,
        value,
    })
}

/// Parses `k="v",k2="v2"}` (after the opening brace); returns the pairs and what follows `}`.
fn parse_labels(mut s: &str) -> Option<(Vec<(String, String)>, &str)> {
    let mut labels = Vec::new();
    loop {
        s = s.trim_start_matches(',');
        if let Some(rest) = s.strip_prefix('}') {
            return Some((labels, rest));
        }
        let eq = s.find('=')?;
        let key = s[..eq].to_string();
        let mut chars = s[eq + 1..].strip_prefix('"')?.char_indices();
        let mut value = String::new();
        let close = loop {
            match chars.next()? {
                (_, '\\') => match chars.next()?.1 {
                    'n' => value.push('\n'),
                    other => value.push(other),
                },
                (i, '"') => break i,
                (_, c) => value.push(c),
            }
        };
        labels.push((key, value));
        s = &s[eq + 1 + 1 + close + 1..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Labels with escapes, label-less samples, and the name filter.
    #[test]
    fn parses_samples() {
        let text = "# HELP a x\n# TYPE a gauge\na{org=\"o\\\"1\",repo=\"r\\\\n\"} 2.5\nb 3\nc{x=\"1\"} 4\n";
        let samples = parse(text, |n| n != "c");
        assert_eq!(
            samples,
            vec![
                Sample {
                    name: "a".into(),
                    labels: vec![
                        ("org".into(), "o\"1".into()),
                        ("repo".into(), "r\\n".into())
                    ],
                    value: 2.5,
                },
                Sample {
                    name: "b".into(),
                    labels: vec![],
                    value: 3.0,
                },
            ]
        );
        assert_eq!(samples[0].label("repo"), Some("r\\n"));
    }

    /// A truncated line is skipped rather than misread.
    #[test]
    fn skips_malformed_lines() {
        assert!(parse("a{org=\"x 1\n", |_| true).is_empty());
        assert!(parse("a{org=\"x\"}\n", |_| true).is_empty());
    }
}
