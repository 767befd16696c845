#!/usr/bin/env python3
"""Loads a page in headless Chromium over the DevTools protocol and checks it.

usage: browser_check.py URL EXPECTED_ROWS CSS_ROW_SELECTOR [DOM_OUT]
Fails (exit 1) when the page logs any console error, throws, has a failed or blocked request
(e.g. an external asset or a CSP violation), or when its DOM does not have EXPECTED_ROWS
elements matching the selector. Writes the dumped DOM to DOM_OUT when given.
Needs: Debian's chromium (/usr/bin/chromium), python3 with websocket-client.
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

import websocket  # websocket-client

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# Flags for a closed network and a root user (see the machine notes): no background traffic.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-extensions"]


def origin(url):
    parts = urllib.parse.urlsplit(url)
    return (parts.scheme, parts.netloc)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_json(url, deadline):
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                return json.load(r)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


class Cdp:
    def __init__(self, ws_url):
        self.ws = websocket.create_connection(ws_url, timeout=30)
        self.next_id = 0
        self.events = []

    def call(self, method, **params):
        self.next_id += 1
        msg_id = self.next_id
        self.ws.send(json.dumps({"id": msg_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == msg_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)

    def wait_event(self, method, deadline):
        while time.monotonic() < deadline:
            for ev in self.events:
                if ev.get("method") == method:
                    return ev
            self.ws.settimeout(max(0.1, deadline - time.monotonic()))
            try:
                self.events.append(json.loads(self.ws.recv()))
            except websocket.WebSocketTimeoutException:
                break
        raise TimeoutError(f"no {method}")


def main(argv):
    if len(argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    url, expected_rows, selector = argv[1], int(argv[2]), argv[3]
    port = free_port()
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    proc = subprocess.Popen([CHROMIUM, *FLAGS, f"--user-data-dir={profile}",
                             f"--remote-debugging-port={port}", "about:blank"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        targets = wait_json(f"http://127.0.0.1:{port}/json/list", deadline)
        page = next(t for t in targets if t.get("type") == "page")
        cdp = Cdp(page["webSocketDebuggerUrl"])
        for domain in ("Page", "Runtime", "Log", "Network"):
            cdp.call(f"{domain}.enable")
        cdp.events.clear()
        cdp.call("Page.navigate", url=url)
        cdp.wait_event("Page.loadEventFired", time.monotonic() + 30)
        # Let late console messages and requests arrive: a short settle on a round trip.
        cdp.call("Runtime.evaluate", expression="1")
        problems = []
        for ev in cdp.events:
            method, params = ev.get("method"), ev.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                problems.append(f"console.{params['type']}: {params.get('args')}")
            elif method == "Runtime.exceptionThrown":
                problems.append(f"exception: {params.get('exceptionDetails', {}).get('text')}")
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                entry = params["entry"]
                problems.append(f"log error ({entry.get('source')}): {entry.get('text')} {entry.get('url', '')}")
            elif method == "Network.loadingFailed":
                problems.append(f"request failed: {params.get('errorText')} {params.get('blockedReason', '')}")
            elif method == "Network.responseReceived" and params.get("response", {}).get("status", 200) >= 400:
                problems.append(f"HTTP {params['response']['status']} for {params['response'].get('url')}")
            elif method == "Network.requestWillBeSent":
                req_url = params.get("request", {}).get("url", "")
                if origin(req_url) != origin(url) and not req_url.startswith("data:"):
                    problems.append(f"request to another origin: {req_url}")
        count = cdp.call("Runtime.evaluate", expression=f"document.querySelectorAll({json.dumps(selector)}).length",
                         returnByValue=True)["result"]["value"]
        root = cdp.call("DOM.getDocument", depth=-1)["root"]
        dom = cdp.call("DOM.getOuterHTML", nodeId=root["nodeId"])["outerHTML"]
        if len(argv) > 4:
            with open(argv[4], "w", encoding="utf-8") as f:
                f.write(dom)
        if count != expected_rows:
            problems.append(f"{count} elements match {selector!r}, expected {expected_rows}")
        if problems:
            print("\n".join(problems), file=sys.stderr)
            return 1
        print(f"{url}: loaded without console errors; {count} rows match {selector!r}")
        return 0
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
