#!/usr/bin/env python3
"""A demo rest-hook endpoint for FHIR Subscription notifications (R4 Backport IG).

Stands in for a physician group's care-management system in the demo and the end-to-end tests:
it accepts POSTs of notification Bundles, answers 200, prints one line per notification (type,
subscription, event numbers, focus: ids only, never PHI) and, with --record FILE, appends each
Bundle it accepted (answered 200) as one JSON line to FILE.

    deploy/demo_subscriber.py [--listen HOST:PORT] [--tls-cert CRT --tls-key KEY]
                              [--token TOKEN] [--record FILE] [--attempts FILE]
                              [--hang-first N [--hang-seconds S]]
                              [--fail-first N [--fail-status CODE] [--retry-after S]]
                              [--fault-types TYPE,...]

Port 0 takes a free port; the first line on stdout is {"event":"listening","address":"HOST:PORT"}.
With --token, a request whose Authorization header is not "Bearer TOKEN" gets 401 (the channel
header of the Subscription carries it). Stops on SIGINT/SIGTERM.

Misbehaving, for the end-to-end fault tests (by default it never does): of the notifications
whose type is in --fault-types (default event-notification; handshakes and heartbeats are then
always taken), the first --hang-first are held open for --hang-seconds (default 10) and the
connection closed without an answer; the next --fail-first are answered --fail-status (default
500) with a Retry-After header of --retry-after seconds when given. Neither is recorded with
--record. --attempts FILE appends one JSON line per request, whatever came of it:
{"t": monotonic seconds, "type", "events": [numbers], "answer": status or "hang"} (ids only).
"""
import argparse
import http.server
import json
import signal
import ssl
import sys
import threading
import time


def summary(bundle):
    """(type, subscription, event numbers, focus references) of a backport notification."""
    entries = bundle.get("entry") or []
    status = (entries[0].get("resource") if entries else None) or {}
    kind, subscription, numbers, focus = "?", "?", [], []
    for p in status.get("parameter", []):
        name = p.get("name")
        if name == "type":
            kind = p.get("valueCode", "?")
        elif name == "subscription":
            subscription = (p.get("valueReference") or {}).get("reference", "?")
        elif name == "notification-event":
            for part in p.get("part", []):
                if part.get("name") == "event-number":
                    numbers.append(part.get("valueString"))
                elif part.get("name") == "focus":
                    focus.append((part.get("valueReference") or {}).get("reference", "?"))
    return kind, subscription, numbers, focus


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--listen", default="127.0.0.1:0")
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--token")
    ap.add_argument("--record")
    ap.add_argument("--attempts")
    ap.add_argument("--hang-first", type=int, default=0)
    ap.add_argument("--hang-seconds", type=float, default=10.0)
    ap.add_argument("--fail-first", type=int, default=0)
    ap.add_argument("--fail-status", type=int, default=500)
    ap.add_argument("--retry-after")
    ap.add_argument("--fault-types", default="event-notification")
    args = ap.parse_args()
    host, _, port = args.listen.rpartition(":")
    lock = threading.Lock()
    fault_types = set(t for t in args.fault_types.split(",") if t)
    faulted = [0]  # notifications of those types seen so far
    stopping = threading.Event()

    def note(kind, numbers, answer):
        if args.attempts:
            with open(args.attempts, "a", encoding="utf-8") as f:
                f.write(json.dumps({"t": time.monotonic(), "type": kind, "events": numbers,
                                    "answer": answer}, separators=(",", ":")) + "\n")

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_):  # the summary line is the log
            pass

        def answer(self, code, text=""):
            body = text.encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/fhir+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            if args.token and self.headers.get("Authorization") != "Bearer " + args.token:
                self.answer(401, '{"resourceType":"OperationOutcome"}')
                return
            try:
                bundle = json.loads(raw)
            except ValueError:
                self.answer(400, '{"resourceType":"OperationOutcome"}')
                return
            kind, subscription, numbers, focus = summary(bundle)
            fault = None
            with lock:
                if kind in fault_types:
                    n = faulted[0]
                    faulted[0] += 1
                    if n < args.hang_first:
                        fault = "hang"
                    elif n < args.hang_first + args.fail_first:
                        fault = args.fail_status
                if fault is not None:
                    note(kind, numbers, fault)
                    print("%s: %s %s%s" % ("hanging" if fault == "hang" else "refused %d" % fault,
                                           kind, subscription,
                                           " events %s" % ",".join(numbers) if numbers else ""),
                          flush=True)
            if fault == "hang":
                stopping.wait(args.hang_seconds)
                self.close_connection = True
                return
            if fault is not None:
                body = b'{"resourceType":"OperationOutcome"}'
                self.send_response(fault)
                if args.retry_after is not None:
                    self.send_header("Retry-After", args.retry_after)
                self.send_header("Content-Type", "application/fhir+json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            with lock:
                note(kind, numbers, 200)
                line = "notification: %s %s" % (kind, subscription)
                if numbers:
                    line += " events %s" % ",".join(numbers)
                if focus:
                    line += " focus %s" % " ".join(focus)
                print(line, flush=True)
                if args.record:
                    with open(args.record, "a", encoding="utf-8") as f:
                        f.write(json.dumps(bundle, separators=(",", ":")) + "\n")
            self.answer(200, "")

    server = http.server.ThreadingHTTPServer((host or "127.0.0.1", int(port or 0)), Handler)
    if args.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    def stop(*_):
        stopping.set()
        threading.Thread(target=server.shutdown).start()

    signal.signal(signal.SIGTERM, stop)
    print(json.dumps({"event": "listening", "address": "%s:%d" % server.server_address[:2]},
                     separators=(",", ":")), flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
