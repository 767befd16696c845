#!/usr/bin/env python3
"""Checks PromQL queries against a live exporter: every query of the Grafana dashboard and of
the alert rules parses (promtool) and names only metrics found in the given expositions.

usage: check_promql_names.py DASHBOARD.json RULES.yml EXPOSITION.txt...
Exits 1 listing each query that fails to parse or names a metric the exporter does not serve.
"""
import json
import os
import re
import subprocess
import sys
import tempfile

# Series Prometheus itself attaches to every target.
PROMETHEUS_OWN = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and",
            "or", "unless", "offset", "inf", "nan", "atan2"}
GRAFANA_VARS = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h"}


def served_names(paths):
    names = set()
    for path in paths:
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.startswith("#") or not line.strip():
                    continue
                names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return names


def metric_names(expr):
    """Metric names an expression selects (strings, label matchers, groupings removed)."""
    e = re.sub(r'"(?:\\.|[^"\\])*"', '""', expr)
    e = re.sub(r"\{[^}]*\}", "", e)
    e = re.sub(r"\[[^\]]*\]", "", e)
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    names = set()
    for m in re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*", e):
        word = m.group(0)
        rest = e[m.end():].lstrip()
        if rest.startswith("(") or word.lower() in KEYWORDS:
            continue
        if m.start() > 0 and (e[m.start() - 1].isdigit() or e[m.start() - 1] == "."):
            continue  # a unit or exponent of a number, e.g. 1e3
        names.add(word)
    return names


def substitute(expr):
    for var, value in GRAFANA_VARS.items():
        expr = expr.replace(var, value)
    return expr


def dashboard_queries(path):
    with open(path, encoding="utf-8") as f:
        dash = json.load(f)
    queries = []
    for panel in dash.get("panels", []):
        for sub in [panel] + panel.get("panels", []):
            targets = sub.get("targets")
            if sub.get("type") != "row" and not targets:
                queries.append((f"panel {sub.get('title')!r}", None))
            for t in targets or []:
                queries.append((f"panel {sub.get('title')!r} {t.get('refId')}", t.get("expr")))
    for var in dash.get("templating", {}).get("list", []):
        if var.get("type") == "query":
            q = var.get("query")
            q = q.get("query") if isinstance(q, dict) else q
            m = re.fullmatch(r"label_values\((.+),\s*\w+\)", q or "")
            queries.append((f"variable {var['name']}", m.group(1) if m else None))
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
            queries.append((f"alert {alert}", value))
        i += 1
    return queries


def promtool_parses(queries):
    """Runs promtool over all queries at once (as recording rules); returns its complaint."""
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as f:
        f.write("groups:\n  - name: check\n    rules:\n")
        for n, (_, expr) in enumerate(queries):
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
    served = served_names(argv[3:])
    queries = dashboard_queries(argv[1]) + rule_queries(argv[2])
    problems = [f"{where}: no query" for where, expr in queries if not expr]
    queries = [(w, e) for w, e in queries if e]
    complaint = promtool_parses(queries)
    if complaint:
        problems.append("promtool rejects a query:\n" + complaint)
    used = set()
    for where, expr in queries:
        names = metric_names(substitute(expr))
        if not names:
            problems.append(f"{where}: names no metric: {expr}")
        for name in sorted(names - served - PROMETHEUS_OWN):
            problems.append(f"{where}: {name} is not served ({expr})")
        used |= names
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    print(f"{len(queries)} queries parse and name only served metrics "
          f"({len(used)} metric names, {len(served)} served)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
