#!/usr/bin/env python3
"""Checks deploy/compose without pulling images (no registry here).

usage: check_compose.py COMPOSE_DIR RENDERED_CONFIG.yaml EXPORTER_BIN
RENDERED_CONFIG is `podman-compose config` output (it already proved the file parses and its
anchors, merges and paths resolve). Then: every bind-mounted or secret file exists; both exporter
services pass the exporter's own --check-config with their environment (secrets from the files
compose would mount); they elect on one Redis with distinct identities; Prometheus' configuration
passes `promtool check config` with the real alert rules, and its job names are the ones the
alerts expect; Grafana's provisioning points at the mounted dashboard.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

problems = []


def main(argv):
    compose_dir, rendered, exporter = argv[1], argv[2], argv[3]
    with open(rendered, encoding="utf-8") as f:
        cfg = yaml.safe_load(f)
    services = cfg["services"]
    for want in ("redis", "rabbitmq", "prometheus", "grafana", "fake-github"):
        if want not in services:
            problems.append(f"no {want} service")
    mounts = {}
    for name, svc in services.items():
        for volume in svc.get("volumes", []):
            host, target = volume.split(":")[:2]
            path = host if os.path.isabs(host) else os.path.join(compose_dir, host)
            if not os.path.exists(path):
                problems.append(f"{name}: mounted {host} does not exist")
            mounts[(name, target)] = path
    secrets = {}
    for name, secret in cfg.get("secrets", {}).items():
        path = secret["file"] if os.path.isabs(secret["file"]) else os.path.join(compose_dir, secret["file"])
        if not os.path.exists(path):
            problems.append(f"secret {name}: {secret['file']} does not exist")
        secrets[f"/run/secrets/{name}"] = path

    exporters = {n: s for n, s in services.items() if n.startswith("exporter")}
    if len(exporters) < 2:
        problems.append("fewer than 2 exporter services")
    identities, redis_urls = set(), set()
    for name, svc in exporters.items():
        env = {k: str(v) for k, v in svc.get("environment", {}).items()}
        if env.get("GITHUB_STATS_LEADER_ELECTION__ENABLED") != "true":
            problems.append(f"{name}: leader election is off")
        identities.add(env.get("GITHUB_STATS_LEADER_ELECTION__IDENTITY"))
        redis_urls.add(env.get("GITHUB_STATS_STORE__REDIS_URL"))
        if not svc.get("read_only"):
            problems.append(f"{name}: root filesystem not read-only")
        run_env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_STATS_")}
        for key, value in env.items():
            run_env[key] = secrets.get(value, value) if key.endswith("_FILE") else value
        out = subprocess.run([exporter, "--check-config"], env=run_env, capture_output=True, text=True)
        if out.returncode != 0:
            problems.append(f"{name}: --check-config fails:\n{out.stdout}{out.stderr}")
    if len(identities) != len(exporters) or None in identities:
        problems.append(f"exporter identities are not distinct: {identities}")
    if len(redis_urls) != 1:
        problems.append(f"exporters do not share one Redis: {redis_urls}")

    prom = mounts.get(("prometheus", "/etc/prometheus/prometheus.yml"))
    rules = mounts.get(("prometheus", "/etc/prometheus/alerts.yml"))
    if prom and rules:
        with tempfile.TemporaryDirectory() as tmp:
            shutil.copy(rules, os.path.join(tmp, "alerts.yml"))
            with open(prom, encoding="utf-8") as f:
                text = f.read().replace("/etc/prometheus/alerts.yml", os.path.join(tmp, "alerts.yml"))
            with open(os.path.join(tmp, "prometheus.yml"), "w", encoding="utf-8") as f:
                f.write(text)
            out = subprocess.run(["promtool", "check", "config", os.path.join(tmp, "prometheus.yml")],
                                 capture_output=True, text=True)
            if out.returncode != 0:
                problems.append(f"promtool check config:\n{out.stdout}{out.stderr}")
        jobs = {j["job_name"]: j for j in yaml.safe_load(text)["scrape_configs"]}
        for job, path in (("github-stats-exporter", "/metrics"), ("github-stats-exporter-replica", "/metrics/replica")):
            if jobs.get(job, {}).get("metrics_path") != path:
                problems.append(f"prometheus: job {job} does not scrape {path}")
        with open(rules, encoding="utf-8") as f:
            job_regex = re.search(r'up\{job=~"([^"]+)"\}', f.read()).group(1)
        for job in jobs:
            if not re.fullmatch(job_regex, job):
                problems.append(f"prometheus job {job} escapes the alerts' job matcher {job_regex}")
    else:
        problems.append("prometheus: configuration or rules not mounted")

    dashboards = mounts.get(("grafana", "/etc/grafana/provisioning/dashboards/dashboards.yaml"))
    if dashboards:
        with open(dashboards, encoding="utf-8") as f:
            folder = yaml.safe_load(f)["providers"][0]["options"]["path"]
        if not any(n == "grafana" and t.startswith(folder + "/") and t.endswith(".json") for n, t in mounts):
            problems.append(f"grafana: no dashboard mounted under {folder}")
    else:
        problems.append("grafana: dashboards not provisioned")

    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    print(f"compose: {len(services)} services; exporters pass --check-config; promtool accepts "
          "the Prometheus configuration and rules; Grafana provisions the dashboard")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
