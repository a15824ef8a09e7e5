#!/usr/bin/env python3
"""Checks that the deployment files agree with each other and with the gateway they deploy.

  deploy/check_deploy.py --bin build/ci/gateway/carebridge

- The Kubernetes manifests (deploy/k8s) and the compose file parse; the Deployment is one replica
  with Recreate (the embedded store has one writer), runs as the Dockerfile's non-root user with a
  read-only root file system, mounts the PersistentVolumeClaim where the configuration's data_dir
  is, and probes /healthz (liveness) and /readyz (readiness) on the port the configuration's HTTP
  listener uses; the Service's ports are the container's.
- The Dockerfile builds in one stage and runs in another as that user, with a health check.
- The systemd unit runs `carebridge serve` with the configuration and data directory the others
  use, restarts on failure but not on a configuration error (exit 1), and is hardened.
- The real binary starts on the ConfigMap's configuration (its TLS paths pointed at freshly made dev
  certificates, its listeners at free loopback ports) and answers the probes' paths with 200.
Exit status 0 when every check holds; each failure is one line on stderr.
"""
import argparse
import configparser
import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

import yaml

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
    return cond


def strip_comments(text):
    """JSON with // and /* */ comments (the configuration's syntax) to plain JSON."""
    out, i, n, in_str = [], 0, len(text), False
    while i < n:
        c = text[i]
        if in_str:
            out.append(c)
            if c == "\\":
                out.append(text[i + 1])
                i += 1
            elif c == '"':
                in_str = False
        elif c == '"':
            in_str = True
            out.append(c)
        elif text.startswith("//", i):
            i = text.find("\n", i)
            if i < 0:
                break
            continue
        elif text.startswith("/*", i):
            i = text.find("*/", i) + 2
            continue
        else:
            out.append(c)
        i += 1
    return "".join(out)


def k8s():
    docs = {}
    for f in sorted((HERE / "k8s").glob("*.yaml")):
        for d in yaml.safe_load_all(f.read_text()):
            if d and "kind" in d:
                docs[d["kind"]] = d
    kust = docs.get("Kustomization", {})
    for r in kust.get("resources", []):
        check((HERE / "k8s" / r).exists(), f"k8s: kustomization names {r}, which is missing")
    dep, svc, cm, pvc = (docs.get(k) for k in ("Deployment", "Service", "ConfigMap",
                                                "PersistentVolumeClaim"))
    if not all(check(x is not None, f"k8s: no {k}") for x, k in
               ((dep, "Deployment"), (svc, "Service"), (cm, "ConfigMap"),
                (pvc, "PersistentVolumeClaim"))):
        return None
    config = json.loads(strip_comments(cm["data"]["carebridge.json"]))
    spec = dep["spec"]
    check(spec.get("replicas") == 1, "k8s: the Deployment must have one replica (one store writer)")
    check(spec.get("strategy", {}).get("type") == "Recreate",
          "k8s: the Deployment must use Recreate (never two pods on the store)")
    pod = spec["template"]["spec"]
    sc = pod.get("securityContext", {})
    check(sc.get("runAsNonRoot") is True, "k8s: runAsNonRoot must be true")
    (c,) = pod["containers"]
    csc = c.get("securityContext", {})
    check(csc.get("readOnlyRootFilesystem") is True, "k8s: the root file system must be read-only")
    check(csc.get("allowPrivilegeEscalation") is False, "k8s: no privilege escalation")
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    http_port = int(config["http"]["listen"].rsplit(":", 1)[1])
    mllp_port = int(config["mllp"]["listen"].rsplit(":", 1)[1])
    check(ports.get("http") == http_port, "k8s: container port http is not the config's HTTP port")
    check(ports.get("mllp") == mllp_port, "k8s: container port mllp is not the config's MLLP port")
    check(config["http"]["listen"].startswith("0.0.0.0:"),
          "k8s: the HTTP listener must listen on 0.0.0.0 for the kubelet's probes")
    check(c["livenessProbe"]["httpGet"]["path"] == "/healthz", "k8s: liveness must probe /healthz")
    check(c["readinessProbe"]["httpGet"]["path"] == "/readyz", "k8s: readiness must probe /readyz")
    mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
    vols = {v["name"]: v for v in pod["volumes"]}
    check(mounts.get("data") == config["data_dir"], "k8s: the store volume is not at data_dir")
    check(vols.get("data", {}).get("persistentVolumeClaim", {}).get("claimName")
          == pvc["metadata"]["name"], "k8s: the data volume is not the PersistentVolumeClaim")
    for key in ("certificate", "private_key", "client_ca"):
        path = config["mllp"].get("tls", {}).get(key, "")
        check(path.startswith(mounts.get("tls", "//") + "/"),
              f"k8s: mllp.tls.{key} is not under the TLS Secret's mount")
    svc_targets = {p["targetPort"] for p in svc["spec"]["ports"]}
    check(svc_targets <= set(ports), "k8s: a Service targetPort names no container port")
    check(pod.get("terminationGracePeriodSeconds", 30) > config.get("shutdown_grace_seconds", 10),
          "k8s: terminationGracePeriodSeconds must exceed shutdown_grace_seconds")
    return config


def dockerfile():
    text = (HERE / "Dockerfile").read_text()
    froms = re.findall(r"^FROM\s+(\S+)", text, re.M)
    check(len(froms) >= 2, "Dockerfile: not multi-stage")
    user = re.findall(r"^USER\s+(\S+)", text, re.M)
    check(user and not user[-1].startswith(("0", "root")), "Dockerfile: does not run as non-root")
    check(re.search(r"^HEALTHCHECK\s", text, re.M) is not None, "Dockerfile: no HEALTHCHECK")
    check("/healthz" in text, "Dockerfile: the health check does not ask /healthz")
    for src in re.findall(r"^COPY\s+(?!--from)(\S+)", text, re.M):
        check((ROOT / src).exists(), f"Dockerfile: COPY {src}: no such path")
    ignore = (ROOT / ".dockerignore").read_text()
    for src in re.findall(r"^COPY\s+(?!--from)(\S+)", text, re.M):
        check(f"!{src}" in ignore or f"!{src}/" in ignore,
              f".dockerignore: {src} (copied by the Dockerfile) is not let into the context")
    return user[-1].split(":")[0] if user else None


def compose(uid):
    doc = yaml.safe_load((HERE / "compose.yaml").read_text())
    svc = doc["services"]["carebridge"]
    check((HERE / svc["build"]["context"] / svc["build"]["dockerfile"]).exists(),
          "compose: the build's Dockerfile is missing")
    check(str(svc.get("user", "")).split(":")[0] == uid, "compose: user is not the image's")
    check("/readyz" in " ".join(svc["healthcheck"]["test"]), "compose: health check is not /readyz")
    check(any(v.endswith(":/var/lib/carebridge") for v in svc["volumes"]),
          "compose: no volume at /var/lib/carebridge")


def unit():
    cp = configparser.ConfigParser(strict=False, interpolation=None)
    cp.optionxform = str
    cp.read(HERE / "carebridge.service")
    s = cp["Service"]
    exec_start = s.get("ExecStart", "")
    check(" serve " in exec_start and "--config /etc/carebridge/carebridge.json" in exec_start
          and "--data-dir /var/lib/carebridge" in exec_start,
          "systemd: ExecStart must run serve with /etc/carebridge and /var/lib/carebridge")
    check(s.get("Restart") == "on-failure", "systemd: Restart must be on-failure")
    check("1" in s.get("RestartPreventExitStatus", "").split(),
          "systemd: a configuration error (exit 1) must not restart in a loop")
    for key, want in (("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"),
                      ("StateDirectory", "carebridge")):
        check(s.get(key) == want, f"systemd: {key} must be {want}")
    if shutil.which("systemd-analyze"):
        with tempfile.TemporaryDirectory() as d:
            # verify checks that ExecStart's binary exists: point it at one that does.
            text = (HERE / "carebridge.service").read_text().replace(
                "/usr/local/bin/carebridge", "/bin/true")
            p = pathlib.Path(d) / "carebridge.service"
            p.write_text(text)
            r = subprocess.run(["systemd-analyze", "verify", str(p)], capture_output=True,
                               text=True)
            check(r.returncode == 0 and not r.stderr.strip(),
                  f"systemd-analyze verify: {r.stderr.strip()[:300]}")


def run_binary(bin_path, config):
    with tempfile.TemporaryDirectory() as d:
        d = pathlib.Path(d)
        certs = d / "certs"
        subprocess.run(["bash", str(ROOT / "certs/make-dev-certs.sh"), str(certs)], check=True,
                       capture_output=True)
        text = json.dumps(config)
        mapping = {"server.crt": "server.crt", "server.key": "server.key",
                   "hospital-ca.crt": "ca.crt", "subscribers-ca.crt": "ca.crt"}
        for name, dev in mapping.items():
            text = text.replace("/etc/carebridge/tls/" + name, str(certs / dev))
        (d / "carebridge.json").write_text(text)
        (d / "data").mkdir()
        log = open(d / "gateway.log", "w+")
        p = subprocess.Popen([bin_path, "serve", "--config", str(d / "carebridge.json"),
                              "--data-dir", str(d / "data"), "--mllp-listen", "127.0.0.1:0",
                              "--http-listen", "127.0.0.1:0"], stderr=log)
        try:
            port = None
            for _ in range(300):
                text = (d / "gateway.log").read_text()
                m = re.search(r'"listener":"http","address":"[^"]*:(\d+)"', text)
                if m and '"event":"started"' in text:
                    port = int(m.group(1))
                    break
                if p.poll() is not None:
                    break
                time.sleep(0.1)
            if not check(port is not None, "binary: serve did not start on the ConfigMap's "
                         "configuration: " + (d / "gateway.log").read_text()[-500:]):
                return
            for path in ("/healthz", "/readyz", "/metrics"):
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
                        check(r.status == 200, f"binary: {path} answered {r.status}")
                except Exception as e:  # noqa: BLE001 - any failure is the check's failure
                    check(False, f"binary: {path}: {e}")
        finally:
            if p.poll() is not None:  # it stopped by itself: already reported
                return
            p.send_signal(signal.SIGTERM)
            try:
                check(p.wait(timeout=30) == 0, "binary: serve did not exit 0 on SIGTERM")
            except subprocess.TimeoutExpired:
                p.kill()
                check(False, "binary: serve did not stop within 30 s of SIGTERM")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.environ.get("CAREBRIDGE_BIN",
                                                    str(ROOT / "build/ci/gateway/carebridge")))
    args = ap.parse_args()
    config = k8s()
    uid = dockerfile()
    compose(uid)
    check(uid is not None and str(yaml.safe_load((HERE / "k8s/deployment.yaml").read_text())
                                  ["spec"]["template"]["spec"]["securityContext"]["runAsUser"])
          == uid, "k8s: runAsUser is not the Dockerfile's USER")
    unit()
    if config is not None:
        run_binary(args.bin, config)
    for f in failures:
        print("check_deploy: " + f, file=sys.stderr)
    if not failures:
        print("check_deploy: deployment files consistent; the gateway starts on the ConfigMap's "
              "configuration and answers /healthz, /readyz, /metrics")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
