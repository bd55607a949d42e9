"""Uploads a file through imgproc's page in headless Chromium, as a person
would: picks the file, chooses the result's format, presses the button.
Prints the job page the browser lands on.

usage: page_upload.py BASE_URL FILE FORMAT PROFILE_DIR
"""
import json
import os
import subprocess
import sys
import time
import urllib.request

import websocket  # websocket-client

base, path, fmt, profile = sys.argv[1:5]
browser = subprocess.Popen(["/usr/bin/chromium", "--headless=new", "--no-sandbox", "--disable-gpu",
                            "--disable-dev-shm-usage", "--remote-debugging-port=0", f"--user-data-dir={profile}",
                            "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
try:
    port_file = os.path.join(profile, "DevToolsActivePort")
    for _ in range(100):
        if os.path.exists(port_file) and open(port_file).read().strip():
            break
        time.sleep(0.1)
    port = open(port_file).read().split()[0]
    target = next(t for t in json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list")) if t["type"] == "page")
    ws = websocket.create_connection(target["webSocketDebuggerUrl"], timeout=30)
    ids = iter(range(1, 1_000_000))

    def call(method, **params):
        n = next(ids)
        ws.send(json.dumps({"id": n, "method": method, "params": params}))
        while True:
            reply = json.loads(ws.recv())
            if reply.get("id") == n:
                if "error" in reply:
                    raise SystemExit(f"{method}: {reply['error']}")
                return reply["result"]

    def evaluate(expression):
        return call("Runtime.evaluate", expression=expression, returnByValue=True)["result"].get("value")

    call("Page.navigate", url=base + "/")
    deadline = time.time() + 20
    while evaluate("document.readyState") != "complete" or not evaluate("!!document.getElementById('send')"):
        if time.time() > deadline:
            raise SystemExit("the page did not load")
        time.sleep(0.1)
    root = call("DOM.getDocument")["root"]["nodeId"]
    node = call("DOM.querySelector", nodeId=root, selector="#files")["nodeId"]
    call("DOM.setFileInputFiles", nodeId=node, files=[os.path.abspath(path)])
    evaluate(f"document.getElementById('format').value = {json.dumps(fmt)}; document.getElementById('send').click()")
    while "/jobs/" not in (evaluate("location.href") or ""):
        if time.time() > deadline:
            raise SystemExit("no job page after the upload: " + str(evaluate("document.getElementById('message').textContent")))
        time.sleep(0.1)
    print(evaluate("location.href"))
finally:
    browser.terminate()
    browser.wait(10)
