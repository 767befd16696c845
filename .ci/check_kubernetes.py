#!/usr/bin/env python3
"""Checks deploy/kubernetes: base, overlays/* and components, rendered by the real kustomize.

usage: check_kubernetes.py DIR KUSTOMIZE EXPORTER_BIN
1. every YAML file in a kustomization's folder is used by it (a resource, component, patch or
   generated file) or is a `*.example.yaml` Secret template, and the templates pass
   `kubernetes-validate --strict`;
2. `KUSTOMIZE build` of DIR/base and of every DIR/overlays/NAME; each rendering passes
   `kubernetes-validate --strict` (the prometheus-operator kinds, ServiceMonitor and PodMonitor,
   for which it has no schema, are checked field by field below) and renders no Secret;
3. in each rendering every resource names the one namespace and the cross-references hold:
   Service and monitors select the exporter's pods, named ports exist, probes hit /livez and
   /readyz, every `_FILE` variable points into a mounted Secret at a key its template has, the
   pods are hardened, the Lease Role is bound to the pod's ServiceAccount, the configuration
   file passes the exporter's own --check-config;
   Redis and RabbitMQ (when rendered) have probes, requests, and credentials from a Secret;
   the NetworkPolicies keep other pods out and admit Prometheus, DNS, GitHub, the API server
   and the backends;
4. with KUBECONFIG set (the kube-apiserver test bed), each rendering passes a server-side dry
   run (`kubectl apply --dry-run=server` without kubectl: a create with `dryRun=All`), in its
   namespace, which is created for real; a warning (e.g. Pod Security admission on a pod
   template) fails it; the prometheus-operator kinds are skipped (the test bed has no CRDs).
Needs: python3 with PyYAML, kubernetes-validate (PyPI).
"""
import base64
import json
import os
import ssl
import urllib.error
import urllib.request
import subprocess
import sys
import tempfile
import time

import yaml

OPERATOR_KINDS = {"ServiceMonitor", "PodMonitor"}
EXPORTER = "github-stats-exporter"
# The prometheus-operator v1 fields these manifests may use (a subset of the CRDs' schemas).
MONITOR_ENDPOINT_KEYS = {"port", "path", "interval", "scrapeTimeout", "relabelings",
                         "metricRelabelings", "scheme", "honorLabels"}
RELABEL_KEYS = {"sourceLabels", "separator", "regex", "targetLabel", "replacement", "action",
                "modulus"}
# The peers the NetworkPolicies must admit: Prometheus as base's policy names it, and the
# exporter's destinations outside the cluster (port, protocol).
PROMETHEUS = ({"kubernetes.io/metadata.name": "monitoring"}, {"app.kubernetes.io/name": "prometheus"})
OUTSIDE = [(53, "UDP"), (53, "TCP"), (443, "TCP"), (6443, "TCP")]
BACKEND_PORTS = {"redis": 6379, "rabbitmq": 5672}
problems = []


def problem(text):
    problems.append(text)


def load_all(path):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d]


def validate(where, paths):
    out = subprocess.run(["kubernetes-validate", "--strict", *paths], capture_output=True, text=True)
    for line in (out.stdout + out.stderr).splitlines():
        if line.startswith("INFO"):
            continue
        if "Couldn't find schema for kind" in line and any(k in line for k in OPERATOR_KINDS):
            continue
        problem(f"{where}: kubernetes-validate: {line}")
    if out.returncode != 0:
        problem(f"{where}: kubernetes-validate exited {out.returncode}")


def check_files(directory):
    """Step 1; returns the keys of each Secret template, by Secret name."""
    templates = {}
    for folder, _, names in sorted(os.walk(directory)):
        if "kustomization.yaml" not in names:
            continue
        k = load_all(os.path.join(folder, "kustomization.yaml"))[0]
        used = set(k.get("resources", [])) | set(k.get("components", []))
        used |= {p["path"] for p in k.get("patches", []) if "path" in p}
        used |= {f for g in k.get("configMapGenerator", []) for f in g.get("files", [])}
        for name in sorted(names):
            path = os.path.join(folder, name)
            if name.endswith(".example.yaml"):
                validate(path, [path])
                secret = load_all(path)[0]
                templates[secret["metadata"]["name"]] = set(secret.get("stringData", {}))
            elif name.endswith(".yaml") and name != "kustomization.yaml" and name not in used:
                problem(f"{path} is not used by {folder}/kustomization.yaml")
    return templates


def render(kustomize, directory):
    out = subprocess.run([kustomize, "build", directory], capture_output=True, text=True)
    if out.returncode != 0:
        problem(f"kustomize build {directory}: {out.stderr.strip()}")
        return []
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def check_relabelings(where, relabelings):
    for r in relabelings or []:
        extra = set(r) - RELABEL_KEYS
        if extra:
            problem(f"{where}: unknown relabeling fields {sorted(extra)}")


def check_monitor(where, doc, pods, services):
    kind, spec = doc["kind"], doc.get("spec", {})
    if doc.get("apiVersion") != "monitoring.coreos.com/v1":
        problem(f"{where}: {kind}: apiVersion must be monitoring.coreos.com/v1")
    selector = spec.get("selector", {}).get("matchLabels", {})
    if kind == "ServiceMonitor":
        known = {"jobLabel", "selector", "endpoints", "namespaceSelector", "targetLabels"}
        targets = [s for s in services if selector.items() <= s["metadata"].get("labels", {}).items()]
        ports = {p.get("name") for s in targets for p in s["spec"]["ports"]}
        endpoints = spec.get("endpoints", [])
    else:
        known = {"selector", "podMetricsEndpoints", "namespaceSelector", "jobLabel", "podTargetLabels"}
        targets = [p for p in pods if selector.items() <= p["labels"].items()]
        ports = {port.get("name") for p in targets for c in p["containers"] for port in c.get("ports", [])}
        endpoints = spec.get("podMetricsEndpoints", [])
    if set(spec) - known:
        problem(f"{where}: {kind}: unknown spec fields {sorted(set(spec) - known)}")
    if not targets:
        problem(f"{where}: {kind} {doc['metadata']['name']}: selector {selector} matches nothing")
    if not endpoints:
        problem(f"{where}: {kind}: no endpoints")
    for e in endpoints:
        if set(e) - MONITOR_ENDPOINT_KEYS:
            problem(f"{where}: {kind}: unknown endpoint fields {sorted(set(e) - MONITOR_ENDPOINT_KEYS)}")
        if e.get("port") not in ports:
            problem(f"{where}: {kind}: port {e.get('port')!r} is not one of {sorted(ports)}")
        check_relabelings(f"{where}: {kind}", e.get("relabelings"))
    return {e.get("path") for e in endpoints}


def matches(selector, labels):
    if set(selector) - {"matchLabels"}:
        problem(f"selector {selector}: only matchLabels is understood here")
    return selector.get("matchLabels", {}).items() <= labels.items()


def admitted(policies, labels, direction, port, protocol, peer, namespace, named=None):
    """Whether the NetworkPolicies let `direction` ("ingress" to the pod with `labels`, "egress"
    from it) traffic through on `port`/`protocol`. `peer` is (namespace labels, pod labels) of
    the other end, or None for an address outside the cluster; `named` maps the destination
    pod's port names to numbers."""
    named = named or {}
    kind = direction.capitalize()
    selecting = [p for p in policies if kind in p["spec"].get("policyTypes", ["Ingress"])
                 and matches(p["spec"]["podSelector"], labels)]
    if not selecting:
        return True
    for p in selecting:
        for rule in p["spec"].get(direction, []):
            ports = rule.get("ports")
            if ports and not any(named.get(q.get("port"), q.get("port")) == port
                                 and q.get("protocol", "TCP") == protocol for q in ports):
                continue
            peers = rule.get("from" if direction == "ingress" else "to")
            if not peers or any(peer_matches(e, peer, namespace) for e in peers):
                return True
    return False


def peer_matches(entry, peer, namespace):
    if "ipBlock" in entry:
        return peer is None and entry["ipBlock"]["cidr"] in ("0.0.0.0/0", "::/0")
    if peer is None:
        return False
    ns_labels, pod_labels = peer
    if "namespaceSelector" in entry:
        if not matches(entry["namespaceSelector"], ns_labels):
            return False
    elif ns_labels.get("kubernetes.io/metadata.name") != namespace:
        return False
    return matches(entry.get("podSelector", {}), pod_labels)


def check_network(where, by_kind, workloads):
    """The NetworkPolicies: no other pod of the namespace reaches any of these pods; Prometheus
    reaches the exporter's http port; the exporter reaches DNS, 443 and 6443 outside, and
    Redis and RabbitMQ, in the rendering (both ends admit it) or outside it."""
    policies = by_kind.get("NetworkPolicy", [])
    namespace = workloads[EXPORTER]["namespace"]
    own_ns = {"kubernetes.io/metadata.name": namespace}
    pods = {name: (w["labels"], {p["name"]: p["containerPort"] for c in w["containers"]
                                 for p in c.get("ports", [])})
            for name, w in workloads.items()}
    stranger = (own_ns, {"app.kubernetes.io/name": "intruder"})
    for name, (labels, ports) in pods.items():
        for number in ports.values():
            if admitted(policies, labels, "ingress", number, "TCP", stranger, namespace, ports):
                problem(f"{where}: any pod of the namespace reaches {name} on {number}")
    exporter, exporter_ports = pods[EXPORTER]
    if not admitted(policies, exporter, "ingress", exporter_ports.get("http"), "TCP", PROMETHEUS,
                    namespace, exporter_ports):
        problem(f"{where}: Prometheus {PROMETHEUS} cannot reach the exporter's http port")
    for port, protocol in OUTSIDE:
        if not admitted(policies, exporter, "egress", port, protocol, None, namespace):
            problem(f"{where}: the exporter cannot reach {port}/{protocol} outside the cluster")
    for backend, port in BACKEND_PORTS.items():
        if backend in pods:  # in the rendering: both ends must admit it
            labels, ports = pods[backend]
            out = admitted(policies, exporter, "egress", port, "TCP", (own_ns, labels), namespace, ports)
            ok = out and admitted(policies, labels, "ingress", port, "TCP", (own_ns, exporter),
                                  namespace, ports)
        else:  # outside the cluster
            ok = admitted(policies, exporter, "egress", port, "TCP", None, namespace)
        if not ok:
            problem(f"{where}: the exporter cannot reach {backend} on {port}")


def check_backend(where, workload, services, templates):
    """Redis or RabbitMQ of the self-contained component."""
    name, spec = workload["name"], workload["spec"]
    if not any(s["spec"]["selector"].items() <= workload["labels"].items() for s in services):
        problem(f"{where}: no Service selects {name}")
    if not spec.get("securityContext", {}).get("runAsNonRoot"):
        problem(f"{where}: {name}: runAsNonRoot is not set")
    for c in workload["containers"]:
        if not (c.get("livenessProbe") and c.get("readinessProbe")):
            problem(f"{where}: {name}: no liveness and readiness probes")
        if not c.get("resources", {}).get("requests") or "memory" not in c["resources"].get("limits", {}):
            problem(f"{where}: {name}: no resource requests and memory limit")
        sc = c.get("securityContext", {})
        if (sc.get("allowPrivilegeEscalation") is not False
                or sc.get("capabilities", {}).get("drop") != ["ALL"]):
            problem(f"{where}: {name}: privilege escalation allowed or capabilities kept")
        for e in c.get("env", []):
            ref = e.get("valueFrom", {}).get("secretKeyRef")
            if ref and ref["key"] not in templates.get(ref["name"], set()):
                problem(f"{where}: {name}: {e['name']} reads {ref}, which no *.example.yaml has")
            if "value" in e and any(w in e["name"] for w in ("PASS", "SECRET", "TOKEN")):
                problem(f"{where}: {name}: {e['name']} has a literal value")


def check_exporter(where, by_kind, workload, templates, exporter_bin):
    """The exporter's Deployment and what refers to it."""
    template = workload["template"]
    pod_labels = workload["labels"]
    pods = [{"labels": pod_labels, "containers": workload["containers"]}]
    services = [s for s in by_kind.get("Service", []) if s["metadata"]["name"] == EXPORTER]
    if workload["replicas"] < 2:
        problem(f"{where}: Deployment: fewer than 2 replicas")
    for s in services:
        if not s["spec"]["selector"].items() <= pod_labels.items():
            problem(f"{where}: Service {s['metadata']['name']} does not select the pods")
    for pdb in by_kind.get("PodDisruptionBudget", []):
        if not pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items():
            problem(f"{where}: PodDisruptionBudget does not select the pods")
    paths = set()
    for kind in OPERATOR_KINDS:
        if kind not in by_kind:
            problem(f"{where}: no {kind}")
        for d in by_kind.get(kind, []):
            paths |= check_monitor(where, d, pods, services)
    if paths != {"/metrics", "/metrics/replica"}:
        problem(f"{where}: monitors scrape {sorted(paths)}, expected /metrics and /metrics/replica")

    # The Lease election: the pod's ServiceAccount may get, list, watch, create and update
    # Leases in its namespace, through a Role (never a ClusterRole), and nothing else.
    account = template["spec"].get("serviceAccountName")
    if "ClusterRole" in by_kind or "ClusterRoleBinding" in by_kind:
        problem(f"{where}: cluster-wide RBAC: the exporter needs Leases in its own namespace only")
    lease_verbs = {"get", "list", "watch", "create", "update"}
    bound = [b for b in by_kind.get("RoleBinding", [])
             if any(s.get("kind") == "ServiceAccount" and s.get("name") == account
                    for s in b.get("subjects", []))]
    roles = {r["metadata"]["name"]: r for r in by_kind.get("Role", [])}
    granted = []
    for b in bound:
        role = roles.get(b["roleRef"]["name"])
        if b["roleRef"].get("kind") != "Role" or role is None:
            problem(f"{where}: RoleBinding {b['metadata']['name']}: binds no Role of these manifests")
            continue
        granted += role.get("rules", [])
    if not granted:
        problem(f"{where}: no Role is bound to the pod's ServiceAccount {account!r}")
    for rule in granted:
        if (rule.get("apiGroups") != ["coordination.k8s.io"] or rule.get("resources") != ["leases"]
                or set(rule.get("verbs", [])) != lease_verbs):
            problem(f"{where}: Role rule {rule}: only {sorted(lease_verbs)} on coordination.k8s.io leases")
    if template["spec"].get("automountServiceAccountToken") is False:
        problem(f"{where}: the pod does not mount its ServiceAccount token: the Lease election needs it")

    if not template["spec"].get("securityContext", {}).get("runAsNonRoot"):
        problem(f"{where}: pod securityContext: runAsNonRoot is not set")
    container = workload["containers"][0]
    sc = container.get("securityContext", {})
    for key, want in [("readOnlyRootFilesystem", True), ("allowPrivilegeEscalation", False)]:
        if sc.get(key) is not want:
            problem(f"{where}: container securityContext: {key} is not {want}")
    if sc.get("capabilities", {}).get("drop") != ["ALL"]:
        problem(f"{where}: container securityContext: capabilities are not all dropped")
    if container.get("livenessProbe", {}).get("httpGet", {}).get("path") != "/livez":
        problem(f"{where}: livenessProbe is not /livez")
    if container.get("readinessProbe", {}).get("httpGet", {}).get("path") != "/readyz":
        problem(f"{where}: readinessProbe is not /readyz")
    if not container.get("resources", {}).get("requests") or not container["resources"].get("limits"):
        problem(f"{where}: container has no resource requests and limits")

    # `_FILE` variables must point into a mounted Secret, at a key its template has.
    volumes = {v["name"]: v for v in template["spec"]["volumes"]}
    mounts = {m["mountPath"]: volumes[m["name"]] for m in container.get("volumeMounts", [])}
    file_vars = [e for e in container.get("env", []) if e["name"].endswith("_FILE")]
    if not file_vars:
        problem(f"{where}: no secret comes from a file (`_FILE` variables)")
    for e in file_vars:
        directory_path, key = os.path.split(e["value"])
        volume = mounts.get(directory_path)
        if not volume or "secret" not in volume:
            problem(f"{where}: {e['name']}: {e['value']} is not in a mounted Secret")
        elif key not in templates.get(volume["secret"]["secretName"], set()):
            problem(f"{where}: {e['name']}: key {key!r} is not in the Secret's *.example.yaml")
        if any(s in e["value"] for s in ("ghp_", "://")):
            problem(f"{where}: {e['name']}: looks like a secret value in the manifest")

    # The rendered configuration file, with the Deployment's environment, passes --check-config.
    args = container.get("args", [])
    config_path = args[args.index("--config") + 1]
    config_dir, config_key = os.path.split(config_path)
    config_name = mounts.get(config_dir, {}).get("configMap", {}).get("name")
    config_maps = {c["metadata"]["name"]: c for c in by_kind.get("ConfigMap", [])}
    if config_name not in config_maps:
        problem(f"{where}: --config {config_path} is not in a mounted ConfigMap of the rendering")
        return
    with tempfile.TemporaryDirectory() as tmp:
        cfg = os.path.join(tmp, config_key)
        with open(cfg, "w", encoding="utf-8") as f:
            f.write(config_maps[config_name]["data"][config_key])
        env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_STATS_")}
        for e in container.get("env", []):
            if e["name"].endswith("_FILE"):
                secret = os.path.join(tmp, os.path.basename(e["value"]))
                with open(secret, "w", encoding="utf-8") as f:
                    f.write({"redis-url": "redis://redis:6379/0",
                             "amqp-url": "amqp://u:p@rabbitmq:5672/%2f"}.get(os.path.basename(e["value"]), "token"))
                env[e["name"]] = secret
            elif "value" in e:
                env[e["name"]] = e["value"]
            else:
                env[e["name"]] = "pod-0"  # fieldRef: metadata.name
        out = subprocess.run([exporter_bin, "--config", cfg, "--check-config"], env=env,
                             capture_output=True, text=True)
        if out.returncode != 0:
            problem(f"{where}: --check-config rejects the rendered configuration:\n{out.stdout}{out.stderr}")


def check_rendering(where, docs, templates, exporter_bin):
    by_kind = {}
    for d in docs:
        by_kind.setdefault(d["kind"], []).append(d)
    namespaces = {d["metadata"].get("namespace") for d in docs if d["kind"] != "Namespace"}
    if len(namespaces) != 1 or None in namespaces:
        problem(f"{where}: resources in namespaces {namespaces}, expected one, named in each")
    if "Secret" in by_kind:
        problem(f"{where}: renders a Secret: secrets are created outside the kustomization")
    workloads = {}
    for d in by_kind.get("Deployment", []) + by_kind.get("StatefulSet", []):
        template = d["spec"]["template"]
        workloads[d["metadata"]["name"]] = {
            "name": d["metadata"]["name"], "namespace": d["metadata"].get("namespace"),
            "replicas": d["spec"].get("replicas", 1), "template": template,
            "spec": template["spec"], "labels": template["metadata"]["labels"],
            "containers": template["spec"]["containers"]}
    if EXPORTER not in workloads:
        problem(f"{where}: no Deployment {EXPORTER}")
        return
    check_exporter(where, by_kind, workloads[EXPORTER], templates, exporter_bin)
    for name in set(workloads) - {EXPORTER}:
        check_backend(where, workloads[name], by_kind.get("Service", []), templates)
    check_network(where, by_kind, workloads)


# Where the API server lists each kind the manifests use.
API_PATHS = {
    "Namespace": "/api/v1/namespaces",
    "ServiceAccount": "/api/v1/namespaces/{ns}/serviceaccounts",
    "ConfigMap": "/api/v1/namespaces/{ns}/configmaps",
    "Service": "/api/v1/namespaces/{ns}/services",
    "Deployment": "/apis/apps/v1/namespaces/{ns}/deployments",
    "PodDisruptionBudget": "/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets",
    "Role": "/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/roles",
    "RoleBinding": "/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings",
    "StatefulSet": "/apis/apps/v1/namespaces/{ns}/statefulsets",
    "NetworkPolicy": "/apis/networking.k8s.io/v1/namespaces/{ns}/networkpolicies",
}


def server_dry_run(where, docs, kubeconfig_path):
    """Creates every rendered resource with dryRun=All on the API server of `kubeconfig_path`
    (its namespace for real first); returns how many the server accepted."""
    with open(kubeconfig_path, encoding="utf-8") as f:
        kubeconfig = yaml.safe_load(f)
    context = next(c["context"] for c in kubeconfig["contexts"]
                   if c["name"] == kubeconfig["current-context"])
    cluster = next(c["cluster"] for c in kubeconfig["clusters"] if c["name"] == context["cluster"])
    user = next(u["user"] for u in kubeconfig["users"] if u["name"] == context["user"])
    tls = ssl.create_default_context(
        cadata=base64.b64decode(cluster["certificate-authority-data"]).decode())

    def post(path, body, dry_run):
        url = cluster["server"] + path + ("?dryRun=All&fieldValidation=Strict" if dry_run else "")
        request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                         headers={"Authorization": f"Bearer {user['token']}",
                                                  "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, context=tls, timeout=10) as answer:
                # Warnings, e.g. Pod Security admission on a pod template, fail the check.
                return answer.status, "; ".join(answer.headers.get_all("Warning") or [])
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode(errors="replace")

    accepted = 0
    for d in docs:
        if d["kind"] == "Namespace":
            status, text = post(API_PATHS["Namespace"], d, dry_run=False)
            if status not in (201, 409):
                problem(f"{where}: server: creating Namespace {d['metadata']['name']}: HTTP {status} {text}")
    for d in docs:
        if d["kind"] in OPERATOR_KINDS or d["kind"] == "Namespace":
            continue
        path = API_PATHS.get(d["kind"])
        if path is None:
            problem(f"{where}: server dry run: no API path known for kind {d['kind']}")
            continue
        status, text = post(path.format(ns=d["metadata"].get("namespace", "default")), d, True)
        if status == 201 and not text:
            accepted += 1
        else:
            problem(f"{where}: server dry run of {d['kind']} {d['metadata']['name']}: HTTP {status} {text}")
    return accepted


def main(argv):
    directory, kustomize, exporter_bin = argv[1:4]
    templates = check_files(directory)
    targets = [os.path.join(directory, "base")] + sorted(
        os.path.join(directory, "overlays", o) for o in os.listdir(os.path.join(directory, "overlays")))
    summary = []
    for target in targets:
        where = os.path.relpath(target, directory)
        t0 = time.monotonic()
        docs = render(kustomize, target)
        took = time.monotonic() - t0
        if not docs:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            rendered = []
            for n, d in enumerate(docs):
                path = os.path.join(tmp, f"{n:02}-{d['kind'].lower()}.yaml")
                with open(path, "w", encoding="utf-8") as f:
                    yaml.safe_dump(d, f)
                rendered.append(path)
            validate(where, rendered)
        check_rendering(where, docs, templates, exporter_bin)
        line = f"{where}: {len(docs)} resources (kustomize build {took:.2f} s)"
        if os.environ.get("KUBECONFIG"):
            accepted = server_dry_run(where, docs, os.environ["KUBECONFIG"])
            line += f", {accepted} accepted by the API server (dry run)"
        summary.append(line)
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    print("\n".join(summary))
    print(f"{len(targets)} renderings valid; cross-references, NetworkPolicies and --check-config pass")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
