#!/usr/bin/env python3
"""Checks PromQL queries against a live exporter: every query of the Grafana dashboard and of
the alert rules parses (promtool) and uses only metric names, label names and label values
found in the given expositions.

usage: check_promql_names.py DASHBOARD.json RULES.yml EXPOSITION.txt...

Per query:
- every metric it selects is served (or is one of Prometheus' own series, e.g. `up`);
- every label name of a `{...}` matcher exists on that metric in the expositions (or is a
  label Prometheus attaches to every target: `instance`, `job`);
- every literal value of an `=` matcher (not `!=`, `=~`, `!~`; not empty; not a Grafana
  variable such as `$org`) is a value that label has on that metric in the expositions;
- every label of `by (...)`, `without (...)`, `on (...)`, `ignoring (...)`, `group_left (...)`,
  `group_right (...)` (and of a dashboard variable's `label_values(metric, label)`) exists on at
  least one metric of the query, is a target label, or is made by the query itself
  (`label_replace`, `count_values`).
Exits 1 listing each query that fails to parse or uses a metric, label or value the exporter
does not serve.
"""
import json
import os
import re
import subprocess
import sys
import tempfile

# Series Prometheus itself attaches to every target (they carry only the target labels).
PROMETHEUS_OWN = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}
# Labels Prometheus attaches to every scraped series (the default relabelling).
TARGET_LABELS = {"instance", "job"}
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and",
            "or", "unless", "offset", "inf", "nan", "atan2", "start", "end"}
GROUPINGS = {"by", "without", "on", "ignoring", "group_left", "group_right"}
AGGREGATORS = {"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count",
               "count_values", "bottomk", "topk", "quantile", "limitk", "limit_ratio"}
GRAFANA_VARS = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h"}

TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<comment>\#[^\n]*)
  | (?P<str>"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'|`[^`]*`)
  | (?P<dur>(?:\d+(?:ms|[smhdwy]))+\b)
  | (?P<num>0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<ident>[a-zA-Z_:][a-zA-Z0-9_:]*)
  | (?P<op>=~|!~|!=|==|<=|>=|[-+*/%^<>=,(){}\[\]@:])
""", re.X)


# ---------------------------------------------------------------------------------------------
# Expositions


def parse_labels(text, i):
    """Parses `{k="v",...}` starting at text[i] == '{'; returns (labels dict, index after '}')."""
    labels = {}
    i += 1
    while i < len(text):
        while i < len(text) and text[i] in " ,":
            i += 1
        if i < len(text) and text[i] == "}":
            return labels, i + 1
        m = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"').match(text, i)
        if not m:
            raise ValueError(f"bad label set at {text[i:i + 40]!r}")
        key, i, value = m.group(1), m.end(), []
        while text[i] != '"':
            if text[i] == "\\":
                i += 1
                value.append({"n": "\n"}.get(text[i], text[i]))
            else:
                value.append(text[i])
            i += 1
        labels[key] = "".join(value)
        i += 1
    raise ValueError("unterminated label set")


def served_series(paths):
    """metric name → label name → set of values, over every series of the expositions."""
    served = {}
    for path in paths:
        with open(path, encoding="utf-8") as f:
            for line in f:
                line = line.rstrip("\n")
                if line.startswith("#") or not line.strip():
                    continue
                m = re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line)
                if not m:
                    continue
                labels = {}
                if line[m.end():].startswith("{"):
                    labels, _ = parse_labels(line, m.end())
                per_label = served.setdefault(m.group(0), {})
                for key, value in labels.items():
                    per_label.setdefault(key, set()).add(value)
    return served


# ---------------------------------------------------------------------------------------------
# Queries


def substitute(expr):
    for var, value in GRAFANA_VARS.items():
        expr = expr.replace(var, value)
    return expr


def tokens(expr):
    """(kind, text) tokens of a PromQL expression; strings are decoded."""
    out, i = [], 0
    while i < len(expr):
        m = TOKEN.match(expr, i)
        if not m:
            raise ValueError(f"cannot read {expr[i:i + 30]!r}")
        kind, text = m.lastgroup, m.group(0)
        i = m.end()
        if kind in ("ws", "comment"):
            continue
        if kind == "str":
            body = text[1:-1]
            text = body if text[0] == "`" else re.sub(r"\\(.)", lambda c: {"n": "\n", "t": "\t"}.get(c.group(1), c.group(1)), body)
        out.append((kind, text))
    return out


class Query:
    """What one expression uses: selectors `(metric or None, [(label, op, value)])`, grouping
    labels `(clause, label)`, and labels the expression makes itself."""

    def __init__(self, expr):
        self.selectors, self.groupings, self.made = [], [], set()
        toks = tokens(expr)
        i = 0
        while i < len(toks):
            kind, text = toks[i]
            nxt = toks[i + 1] if i + 1 < len(toks) else (None, None)
            nxt = nxt[1] if nxt[0] == "op" else None
            if kind == "op" and text == "[":  # a range or subquery: durations only
                while i < len(toks) and toks[i] != ("op", "]"):
                    i += 1
            elif kind == "ident" and text in GROUPINGS and nxt == "(":
                i += 2
                while i < len(toks) and toks[i] != ("op", ")"):
                    if toks[i][0] in ("ident", "str"):
                        self.groupings.append((text, toks[i][1]))
                    i += 1
            elif kind == "ident" and nxt == "(":
                self._made_by_call(text, toks, i + 1)
            elif kind == "ident" and text in AGGREGATORS and i + 1 < len(toks) \
                    and toks[i + 1][0] == "ident" and toks[i + 1][1] in ("by", "without"):
                pass
            elif kind == "ident" and text.lower() in KEYWORDS:
                pass
            elif kind == "ident":
                matchers = []
                if nxt == "{":
                    matchers, i = self._matchers(toks, i + 1)
                    i -= 1
                self.selectors.append((text, matchers))
            elif kind == "op" and text == "{":
                matchers, i = self._matchers(toks, i)
                i -= 1
                name = next((v for l, op, v in matchers if l == "__name__" and op == "="), None)
                self.selectors.append((name, [m for m in matchers if m[0] != "__name__"]))
            i += 1

    @staticmethod
    def _matchers(toks, i):
        """Parses `{label op "value", ...}` from toks[i] == '{'; returns (matchers, index after)."""
        matchers, i = [], i + 1
        while i < len(toks) and toks[i] != ("op", "}"):
            if toks[i] == ("op", ","):
                i += 1
                continue
            label, op, value = toks[i][1], toks[i + 1][1], toks[i + 2][1]
            matchers.append((label, op, value))
            i += 3
        return matchers, i + 1

    def _made_by_call(self, function, toks, i):
        """Labels a call makes: `label_replace(v, "dst", ...)`, `count_values("label", v)`."""
        if function not in ("label_replace", "count_values"):
            return
        depth, args, current = 0, [], []
        for kind, text in toks[i:]:
            if kind == "op" and text in ("(", "[", "{"):
                depth += 1
                if depth == 1:
                    continue
            elif kind == "op" and text in (")", "]", "}"):
                depth -= 1
                if depth == 0:
                    break
            if depth == 1 and (kind, text) == ("op", ","):
                args.append(current)
                current = []
            else:
                current.append((kind, text))
        args.append(current)
        index = 1 if function == "label_replace" else 0
        if len(args) > index and len(args[index]) == 1 and args[index][0][0] == "str":
            self.made.add(args[index][0][1])

    def metric_names(self):
        return {name for name, _ in self.selectors if name}


def is_literal(value):
    """A value to look up: not empty, not a Grafana variable (`$var`, `${var}`, `[[var]]`)."""
    return value != "" and "$" not in value and "[[" not in value


def check(where, query, served):
    """Problems of one parsed query against `served` (see `served_series`)."""
    problems = []
    names = query.metric_names()
    if not names:
        problems.append(f"{where}: names no metric")
    for name in sorted(names - set(served) - PROMETHEUS_OWN):
        problems.append(f"{where}: {name} is not served")
    all_labels = {}
    for per_label in served.values():
        for label, values in per_label.items():
            all_labels.setdefault(label, set()).update(values)
    known = {}  # metric → its labels, for the query's metrics that are served
    for name in names:
        if name in served:
            known[name] = served[name]
        elif name in PROMETHEUS_OWN:
            known[name] = {}
    for name, matchers in query.selectors:
        if name is not None and name not in known:
            continue  # reported above
        labels = known[name] if name is not None else all_labels
        what = name if name is not None else "any served metric"
        for label, op, value in matchers:
            if label in TARGET_LABELS:
                continue  # attached by Prometheus; its values are not in the exposition
            if label not in labels:
                problems.append(f"{where}: label {label!r} is not on {what} "
                                f"(it has {sorted(labels) or 'no labels'})")
            elif op == "=" and is_literal(value) and value not in labels[label]:
                problems.append(f"{where}: {what} has no {label}={value!r} "
                                f"(served values: {sorted(labels[label])[:10]})")
    if names - set(known):
        return problems  # a grouping label may be on the unserved metric: reported above
    on_some_metric = set(TARGET_LABELS) | query.made
    for labels in known.values():
        on_some_metric |= set(labels)
    for clause, label in query.groupings:
        if label not in on_some_metric:
            problems.append(f"{where}: {clause} ({label}) names a label no metric of the query "
                            f"has ({', '.join(sorted(known)) or 'no served metric'})")
    return problems


# ---------------------------------------------------------------------------------------------
# Sources


def dashboard_queries(path):
    """(where, expr, extra grouping labels) of every panel target and query variable."""
    with open(path, encoding="utf-8") as f:
        dash = json.load(f)
    queries = []
    for panel in dash.get("panels", []):
        for sub in [panel] + panel.get("panels", []):
            targets = sub.get("targets")
            if sub.get("type") != "row" and not targets:
                queries.append((f"panel {sub.get('title')!r}", None, []))
            for t in targets or []:
                queries.append((f"panel {sub.get('title')!r} {t.get('refId')}", t.get("expr"), []))
    for var in dash.get("templating", {}).get("list", []):
        if var.get("type") == "query":
            q = var.get("query")
            q = q.get("query") if isinstance(q, dict) else q
            m = re.fullmatch(r"\s*label_values\((.+),\s*(\w+)\s*\)\s*", q or "")
            where = f"variable {var['name']}"
            queries.append((where, m.group(1) if m else None, [m.group(2)] if m else []))
    return queries


def rule_queries(path):
    # The rules are YAML; take each `expr:` (single line or `|` block) without a YAML library.
    queries, lines = [], open(path, encoding="utf-8").read().splitlines()
    i = 0
    while i < len(lines):
        m = re.match(r"(\s*)expr:\s*(.*)$", lines[i])
        if m:
            indent, value = len(m.group(1)), m.group(2)
            if value.strip() in ("|", ">"):
                block = []
                i += 1
                while i < len(lines) and (not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > indent):
                    block.append(lines[i].strip())
                    i += 1
                value = " ".join(block)
                i -= 1
            alert = next((re.sub(r".*alert:\s*", "", l) for l in reversed(lines[:i]) if "alert:" in l), "?")
            queries.append((f"alert {alert}", value, []))
        i += 1
    return queries


def promtool_parses(queries):
    """Runs promtool over all queries at once (as recording rules); returns its complaint."""
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as f:
        f.write("groups:\n  - name: check\n    rules:\n")
        for n, (_, expr, _) in enumerate(queries):
            f.write(f"      - record: q{n}\n        expr: {json.dumps(substitute(expr))}\n")
        name = f.name
    try:
        out = subprocess.run(["promtool", "check", "rules", name], capture_output=True, text=True)
        return None if out.returncode == 0 else out.stdout + out.stderr
    finally:
        os.unlink(name)


def main(argv):
    if len(argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    served = served_series(argv[3:])
    queries = dashboard_queries(argv[1]) + rule_queries(argv[2])
    problems = [f"{where}: no query" for where, expr, _ in queries if not expr]
    queries = [q for q in queries if q[1]]
    complaint = promtool_parses(queries)
    if complaint:
        problems.append("promtool rejects a query:\n" + complaint)
    used, labels_checked = set(), 0
    for where, expr, extra in queries:
        try:
            query = Query(substitute(expr))
        except (ValueError, IndexError) as e:
            problems.append(f"{where}: cannot read the query ({e}): {expr}")
            continue
        query.groupings += [("label_values", label) for label in extra]
        found = check(where, query, served)
        problems += [f"{p} ({expr})" for p in found]
        used |= query.metric_names()
        labels_checked += sum(len(m) for _, m in query.selectors) + len(query.groupings)
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    print(f"{len(queries)} queries parse and use only served metrics, labels and values "
          f"({len(used)} metric names, {labels_checked} label uses, {len(served)} served metrics)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
