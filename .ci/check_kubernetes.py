#!/usr/bin/env python3
"""Checks deploy/kubernetes without a cluster.

usage: check_kubernetes.py DIR EXPORTER_BIN
1. every YAML in DIR but kustomization.yaml is one complete resource passing
   `kubernetes-validate --strict`; only the prometheus-operator kinds (ServiceMonitor,
   PodMonitor), for which it has no schema, are instead checked field by field below;
2. the kustomization is rendered the way kustomize does for the features it uses (resources,
   namespace, labels, images, inline JSON 6902 patches) and the result validated again;
3. cross-references hold: Service and monitors select the pods, named ports exist, probes hit
   /livez and /readyz, every `_FILE` variable points into a mounted Secret key, the pod is
   hardened, the Lease Role is bound to the pod's ServiceAccount, and the patched configuration
   file passes the exporter's own --check-config;
4. with KUBECONFIG set (the kube-apiserver test bed), the rendered resources pass a server-side
   dry run (`kubectl apply --dry-run=server` without kubectl: a create with `dryRun=All`),
   in their namespace, which is created for real; the prometheus-operator kinds are skipped
   (the test bed has no CRDs).
Needs: python3 with PyYAML and jsonpatch, kubernetes-validate (PyPI).
"""
import base64
import copy
import json
import os
import ssl
import urllib.error
import urllib.request
import subprocess
import sys
import tempfile

import jsonpatch
import yaml

OPERATOR_KINDS = {"ServiceMonitor", "PodMonitor"}
CLUSTER_SCOPED = {"Namespace"}
# The prometheus-operator v1 fields these manifests may use (a subset of the CRDs' schemas).
MONITOR_ENDPOINT_KEYS = {"port", "path", "interval", "scrapeTimeout", "relabelings",
                         "metricRelabelings", "scheme", "honorLabels"}
RELABEL_KEYS = {"sourceLabels", "separator", "regex", "targetLabel", "replacement", "action",
                "modulus"}
problems = []


def problem(text):
    problems.append(text)


def validate(paths):
    out = subprocess.run(["kubernetes-validate", "--strict", *paths], capture_output=True, text=True)
    for line in (out.stdout + out.stderr).splitlines():
        if line.startswith("INFO"):
            continue
        if "Couldn't find schema for kind" in line and any(k in line for k in OPERATOR_KINDS | {"Kustomization"}):
            continue
        problem(f"kubernetes-validate: {line}")
    if out.returncode != 0:
        problem(f"kubernetes-validate exited {out.returncode}")


def check_relabelings(where, relabelings):
    for r in relabelings or []:
        extra = set(r) - RELABEL_KEYS
        if extra:
            problem(f"{where}: unknown relabeling fields {sorted(extra)}")


def check_monitor(doc, pods, services):
    kind, spec = doc["kind"], doc.get("spec", {})
    if doc.get("apiVersion") != "monitoring.coreos.com/v1":
        problem(f"{kind}: apiVersion must be monitoring.coreos.com/v1")
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
        problem(f"{kind}: unknown spec fields {sorted(set(spec) - known)}")
    if not targets:
        problem(f"{kind} {doc['metadata']['name']}: selector {selector} matches nothing")
    if not endpoints:
        problem(f"{kind}: no endpoints")
    for e in endpoints:
        if set(e) - MONITOR_ENDPOINT_KEYS:
            problem(f"{kind}: unknown endpoint fields {sorted(set(e) - MONITOR_ENDPOINT_KEYS)}")
        if e.get("port") not in ports:
            problem(f"{kind}: port {e.get('port')!r} is not one of {sorted(ports)}")
        check_relabelings(kind, e.get("relabelings"))
    return {e.get("path") for e in endpoints}


def render(directory, kustomization):
    docs = []
    for name in kustomization["resources"]:
        with open(os.path.join(directory, name), encoding="utf-8") as f:
            docs.extend(d for d in yaml.safe_load_all(f) if d)
    for p in kustomization.get("patches", []):
        t = p["target"]
        matches = [d for d in docs if d["kind"] == t["kind"] and d["metadata"]["name"] == t["name"]]
        if len(matches) != 1:
            problem(f"patch target {t} matches {len(matches)} resources")
            continue
        try:
            patched = jsonpatch.apply_patch(matches[0], yaml.safe_load(p["patch"]))
        except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as e:
            problem(f"patch of {t} does not apply: {e}")
            continue
        docs[docs.index(matches[0])] = patched
    images = {i["name"]: i for i in kustomization.get("images", [])}
    for d in docs:
        if d["kind"] not in CLUSTER_SCOPED and kustomization.get("namespace"):
            d["metadata"]["namespace"] = kustomization["namespace"]
        for entry in kustomization.get("labels", []):
            d["metadata"].setdefault("labels", {}).update(entry["pairs"])
        for c in d.get("spec", {}).get("template", {}).get("spec", {}).get("containers", []):
            i = images.get(c["image"])
            if i:
                c["image"] = f"{i.get('newName', c['image'])}:{i['newTag']}"
    return docs


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
}


def server_dry_run(docs, kubeconfig_path):
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
                return answer.status, ""
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode(errors="replace")

    accepted = 0
    for d in docs:
        if d["kind"] == "Namespace":
            status, text = post(API_PATHS["Namespace"], d, dry_run=False)
            if status not in (201, 409):
                problem(f"server: creating Namespace {d['metadata']['name']}: HTTP {status} {text}")
    for d in docs:
        if d["kind"] in OPERATOR_KINDS or d["kind"] == "Namespace":
            continue
        path = API_PATHS.get(d["kind"])
        if path is None:
            problem(f"server dry run: no API path known for kind {d['kind']}")
            continue
        status, text = post(path.format(ns=d["metadata"].get("namespace", "default")), d, True)
        if status == 201:
            accepted += 1
        else:
            problem(f"server dry run of {d['kind']} {d['metadata']['name']}: HTTP {status} {text}")
    return accepted


def main(argv):
    directory, exporter = argv[1], argv[2]
    files = sorted(os.path.join(directory, f) for f in os.listdir(directory)
                   if f.endswith(".yaml") and f != "kustomization.yaml")
    for path in files:
        with open(path, encoding="utf-8") as f:
            docs = [d for d in yaml.safe_load_all(f) if d]
        if len(docs) != 1 or not {"apiVersion", "kind", "metadata"} <= set(docs[0]):
            problem(f"{path}: not one complete resource")
    validate(files)

    with open(os.path.join(directory, "kustomization.yaml"), encoding="utf-8") as f:
        kustomization = yaml.safe_load(f)
    listed = {os.path.join(directory, r) for r in kustomization["resources"]}
    for path in files:
        if path not in listed and not path.endswith(".example.yaml"):
            problem(f"{path} is not listed in kustomization.yaml")
    docs = render(directory, kustomization)
    with tempfile.TemporaryDirectory() as tmp:
        rendered = []
        for n, d in enumerate(docs):
            path = os.path.join(tmp, f"{n:02}-{d['kind'].lower()}.yaml")
            with open(path, "w", encoding="utf-8") as f:
                yaml.safe_dump(d, f)
            rendered.append(path)
        validate(rendered)

    by_kind = {}
    for d in docs:
        by_kind.setdefault(d["kind"], []).append(d)
    deployment = by_kind["Deployment"][0]
    template = deployment["spec"]["template"]
    pod_labels = template["metadata"]["labels"]
    pods = [{"labels": pod_labels, "containers": template["spec"]["containers"]}]
    services = by_kind.get("Service", [])
    if deployment["spec"]["replicas"] < 2:
        problem("Deployment: fewer than 2 replicas")
    for s in services:
        if not s["spec"]["selector"].items() <= pod_labels.items():
            problem(f"Service {s['metadata']['name']} does not select the pods")
    for pdb in by_kind.get("PodDisruptionBudget", []):
        if not pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items():
            problem("PodDisruptionBudget does not select the pods")
    paths = set()
    for kind in OPERATOR_KINDS:
        if kind not in by_kind:
            problem(f"no {kind}")
        for d in by_kind.get(kind, []):
            paths |= check_monitor(d, pods, services)
    if paths != {"/metrics", "/metrics/replica"}:
        problem(f"monitors scrape {sorted(paths)}, expected /metrics and /metrics/replica")

    # The Lease election: the pod's ServiceAccount may get, list, watch, create and update
    # Leases in its namespace, through a Role (never a ClusterRole), and nothing else.
    account = template["spec"].get("serviceAccountName")
    if "ClusterRole" in by_kind or "ClusterRoleBinding" in by_kind:
        problem("cluster-wide RBAC: the exporter needs Leases in its own namespace only")
    lease_verbs = {"get", "list", "watch", "create", "update"}
    bound = [b for b in by_kind.get("RoleBinding", [])
             if any(s.get("kind") == "ServiceAccount" and s.get("name") == account
                    for s in b.get("subjects", []))]
    roles = {r["metadata"]["name"]: r for r in by_kind.get("Role", [])}
    granted = []
    for b in bound:
        role = roles.get(b["roleRef"]["name"])
        if b["roleRef"].get("kind") != "Role" or role is None:
            problem(f"RoleBinding {b['metadata']['name']}: binds no Role of these manifests")
            continue
        granted += role.get("rules", [])
    if not granted:
        problem(f"no Role is bound to the pod's ServiceAccount {account!r}")
    for rule in granted:
        if (rule.get("apiGroups") != ["coordination.k8s.io"] or rule.get("resources") != ["leases"]
                or set(rule.get("verbs", [])) != lease_verbs):
            problem(f"Role rule {rule}: only {sorted(lease_verbs)} on coordination.k8s.io leases")
    if template["spec"].get("automountServiceAccountToken") is False:
        problem("the pod does not mount its ServiceAccount token: the Lease election needs it")

    pod_sc = template["spec"].get("securityContext", {})
    if not pod_sc.get("runAsNonRoot"):
        problem("pod securityContext: runAsNonRoot is not set")
    container = template["spec"]["containers"][0]
    sc = container.get("securityContext", {})
    for key, want in [("readOnlyRootFilesystem", True), ("allowPrivilegeEscalation", False)]:
        if sc.get(key) is not want:
            problem(f"container securityContext: {key} is not {want}")
    if sc.get("capabilities", {}).get("drop") != ["ALL"]:
        problem("container securityContext: capabilities are not all dropped")
    if container.get("livenessProbe", {}).get("httpGet", {}).get("path") != "/livez":
        problem("livenessProbe is not /livez")
    if container.get("readinessProbe", {}).get("httpGet", {}).get("path") != "/readyz":
        problem("readinessProbe is not /readyz")
    if not container.get("resources", {}).get("requests") or not container["resources"].get("limits"):
        problem("container has no resource requests and limits")

    # `_FILE` variables must point into a mounted Secret, at a key the example Secret has.
    volumes = {v["name"]: v for v in template["spec"]["volumes"]}
    mounts = {m["mountPath"]: volumes[m["name"]] for m in container.get("volumeMounts", [])}
    example_keys = set()
    example = os.path.join(directory, "secret.example.yaml")
    if os.path.exists(example):
        with open(example, encoding="utf-8") as f:
            example_keys = set(yaml.safe_load(f).get("stringData", {}))
    file_vars = [e for e in container.get("env", []) if e["name"].endswith("_FILE")]
    if not file_vars:
        problem("no secret comes from a file (`_FILE` variables)")
    for e in file_vars:
        directory_path, key = os.path.split(e["value"])
        volume = mounts.get(directory_path)
        if not volume or "secret" not in volume:
            problem(f"{e['name']}: {e['value']} is not in a mounted Secret")
        elif key not in example_keys:
            problem(f"{e['name']}: key {key!r} is not in secret.example.yaml")
        if "value" in e and any(s in e["value"] for s in ("ghp_", "://")):
            problem(f"{e['name']}: looks like a secret value in the manifest")

    # The patched configuration file, with the Deployment's environment, passes --check-config.
    config_map = by_kind["ConfigMap"][0]
    args = container.get("args", [])
    config_path = args[args.index("--config") + 1]
    config_dir, config_key = os.path.split(config_path)
    if mounts.get(config_dir, {}).get("configMap", {}).get("name") != config_map["metadata"]["name"]:
        problem(f"--config {config_path} is not in the mounted ConfigMap")
    with tempfile.TemporaryDirectory() as tmp:
        cfg = os.path.join(tmp, config_key)
        with open(cfg, "w", encoding="utf-8") as f:
            f.write(config_map["data"][config_key])
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
        out = subprocess.run([exporter, "--config", cfg, "--check-config"], env=env,
                             capture_output=True, text=True)
        if out.returncode != 0:
            problem(f"--check-config rejects the rendered configuration:\n{out.stdout}{out.stderr}")

    server = ""
    if os.environ.get("KUBECONFIG"):
        accepted = server_dry_run(docs, os.environ["KUBECONFIG"])
        server = f"; the API server accepts {accepted} of them (dry run)"
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    print(f"{len(files)} manifests valid; kustomization renders {len(docs)} valid resources; "
          f"cross-references and --check-config pass{server}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
