#!/usr/bin/env python3
"""A tiny MLLP server that stands in for `carebridge serve` (a test double).

    standin_server.py serve [--config FILE] [--data-dir DIR] [--mllp-listen HOST:PORT]
                            [--http-listen HOST:PORT] [test knobs...]

It follows the same command-line contract as `carebridge serve`, so conformance/mllp/run.sh (and any
other harness) can run against it unchanged: it listens on --mllp-listen (port 0: any free port),
writes one JSON line per event on stderr, the first being
    {"ts":"…","level":"info","event":"listening","listener":"mllp","address":"127.0.0.1:PORT",…}
answers every framed message with an ACK built from the inbound MSH, and exits 0 on SIGTERM/SIGINT.
`--config` is read for mllp.listen and mllp.tls {certificate, private_key, client_ca,
require_client_certificate} (mutual TLS like the gateway); other keys are ignored. --http-listen is
accepted and ignored (there is no HTTP side). With --data-dir each received message is written to
DIR/received/NNNNNN.hl7.

The ACK: the inbound delimiters; MSH-3/4 = inbound MSH-5/6, MSH-5/6 = inbound MSH-3/4; MSH-9
ACK^<trigger>^ACK; a new MSH-10; MSH-11/12 echoed; MSA-1 AA (original mode) or CA (enhanced mode:
MSH-15 or MSH-16 valued); MSA-2 = inbound MSH-10. The framing is written here by hand on purpose
(independent of the clients under test): <VT> message <FS><CR>; bytes outside a frame are dropped;
frames split across reads and several frames per read are handled.

Test knobs, to learn what a client needs from a server:
  --ack-code CODE      MSA-1 to send instead (AE, AR, CE…), with an ERR segment
  --no-trailing-cr     end ACK frames with <FS> only (no <CR> after it)
  --split-ack          write each ACK in three writes, 50 ms apart (VT+MSH / rest / FS CR)
  --ack-delay SECONDS  wait before answering
  --no-ack             read and drop messages, never answer
  --omit-msa2          leave MSA-2 empty
Standard library only; only binds where it is told to.
"""

import argparse
import asyncio
import datetime
import itertools
import json
import os
import signal
import ssl
import sys

VT, FS, CR = b"\x0b", b"\x1c", b"\x0d"


def log(event, level="info", **fields):
    now = datetime.datetime.now(datetime.timezone.utc)
    line = {"ts": now.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z", "level": level, "event": event}
    line.update(fields)
    sys.stderr.write(json.dumps(line, separators=(",", ":")) + "\n")
    sys.stderr.flush()


def parse_host_port(text, what):
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise SystemExit(f"standin_server: {what}: expected HOST:PORT, got '{text}'")
    return host.strip("[]") or "127.0.0.1", int(port)


class AckBuilder:
    def __init__(self, args):
        self.args = args
        self.counter = itertools.count(1)

    def build(self, message: bytes) -> bytes:
        text = message.decode("utf-8", errors="replace")
        segments = [s for s in text.replace("\r\n", "\r").replace("\n", "\r").split("\r") if s]
        msh = segments[0] if segments else ""
        if msh.startswith("\ufeff"):
            msh = msh[1:]
        if not msh.startswith("MSH") or len(msh) < 8:
            # Not an HL7 v2 message: a reject with a minimal header.
            fsep, enc = "|", "^~\\&"
            fields = ["MSH", fsep, enc] + [""] * 14
            fields[12] = "2.5"
            code = "AR"
        else:
            fsep, enc = msh[3], msh[4:].split(msh[3], 1)[0]
            fields = ["MSH", fsep] + msh[4:].split(fsep)
            fields += [""] * (17 - len(fields))  # MSH-1..16 addressable by number
            enhanced = bool(fields[15] or fields[16])
            code = self.args.ack_code or ("CA" if enhanced else "AA")
        comp = enc[0] if enc else "^"
        trigger = fields[9].split(comp)[1] if comp in fields[9] else ""
        now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d%H%M%S+0000")
        ack_id = f"STANDIN{os.getpid()}-{next(self.counter)}"
        msh_out = fsep.join([
            "MSH", enc, fields[5], fields[6], fields[3], fields[4], now, "",
            comp.join(["ACK", trigger, "ACK"]) if trigger else "ACK",
            ack_id, fields[11], fields[12],
        ])
        msa2 = "" if self.args.omit_msa2 else fields[10]
        out = [msh_out, fsep.join(["MSA", code, msa2])]
        if code not in ("AA", "CA"):
            out.append(fsep.join(["ERR", "", "", "", "E", "", "", "", "stand-in error (test knob)"]))
        return ("\r".join(out) + "\r").encode("utf-8"), code, fields[10]


class Server:
    def __init__(self, args, tls_ctx, data_dir):
        self.args = args
        self.tls_ctx = tls_ctx
        self.data_dir = data_dir
        self.acks = AckBuilder(args)
        self.received = itertools.count(1)
        self.writers = set()

    async def handle(self, reader, writer):
        peer = writer.get_extra_info("peername")
        peer_text = f"{peer[0]}:{peer[1]}" if peer else "?"
        fields = {"peer": peer_text}
        cert = writer.get_extra_info("peercert")
        if cert:
            cn = [v for rdn in cert.get("subject", ()) for (k, v) in rdn if k == "commonName"]
            fields["certificate_cn"] = cn[0] if cn else ""
        log("connection_opened", **fields)
        self.writers.add(writer)
        buf = bytearray()
        frames = 0
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                buf += data
                while True:
                    start = buf.find(VT)
                    if start < 0:
                        buf.clear()  # nothing framed: drop
                        break
                    end = buf.find(FS, start + 1)
                    if end < 0:
                        del buf[:start]  # keep the open frame, drop what came before it
                        break
                    message = bytes(buf[start + 1:end])
                    del buf[:end + 1]
                    frames += 1
                    await self.answer(message, writer)
        except (ConnectionError, ssl.SSLError) as e:
            log("connection_error", level="warn", peer=peer_text, error=type(e).__name__)
        finally:
            self.writers.discard(writer)
            log("connection_closed", peer=peer_text, frames=frames)
            try:
                writer.close()
                await writer.wait_closed()
            except (ConnectionError, ssl.SSLError, OSError):
                pass

    async def answer(self, message, writer):
        if self.data_dir:
            path = os.path.join(self.data_dir, "received", f"{next(self.received):06d}.hl7")
            with open(path, "wb") as f:
                f.write(message)
        if self.args.no_ack:
            log("message_dropped", bytes=len(message))
            return
        if self.args.ack_delay:
            await asyncio.sleep(self.args.ack_delay)
        ack, code, control_id = self.acks.build(message)
        # Identifiers only, never message content.
        log("message_acknowledged", control_id=control_id, ack_code=code, bytes=len(message))
        end = FS if self.args.no_trailing_cr else FS + CR
        if self.args.split_ack:
            cut = ack.find(b"\r") + 1
            for part in (VT + ack[:cut], ack[cut:], end):
                writer.write(part)
                await writer.drain()
                await asyncio.sleep(0.05)
        else:
            writer.write(VT + ack + end)
            await writer.drain()


def tls_context(tls):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(tls["certificate"], tls["private_key"])
    if tls.get("client_ca"):
        ctx.load_verify_locations(cafile=tls["client_ca"])
        ctx.verify_mode = (ssl.CERT_REQUIRED if tls.get("require_client_certificate", True)
                           else ssl.CERT_OPTIONAL)
    return ctx


async def main(args):
    host, port = "127.0.0.1", 2575
    tls_ctx = None
    if args.config:
        with open(args.config, encoding="utf-8") as f:
            cfg = json.load(f)
        mllp = cfg.get("mllp", {})
        if mllp.get("listen"):
            host, port = parse_host_port(mllp["listen"], "config mllp.listen")
        if mllp.get("tls"):
            tls_ctx = tls_context(mllp["tls"])
    if args.mllp_listen:
        host, port = parse_host_port(args.mllp_listen, "--mllp-listen")
    data_dir = args.data_dir
    if data_dir:
        os.makedirs(os.path.join(data_dir, "received"), exist_ok=True)

    loop = asyncio.get_running_loop()
    srv = Server(args, tls_ctx, data_dir)
    server = await asyncio.start_server(srv.handle, host, port, ssl=tls_ctx,
                                        ssl_handshake_timeout=10 if tls_ctx else None)
    sock = server.sockets[0].getsockname()
    address = f"[{sock[0]}]:{sock[1]}" if ":" in sock[0] else f"{sock[0]}:{sock[1]}"
    log("listening", listener="mllp", address=address, tls=tls_ctx is not None,
        mutual_tls=bool(tls_ctx and tls_ctx.verify_mode != ssl.CERT_NONE))

    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log("stopping")
    server.close()
    for w in list(srv.writers):
        w.close()
    await server.wait_closed()
    log("stopped")
    return 0


def parse_args(argv):
    p = argparse.ArgumentParser(prog="standin_server.py", description=__doc__.split("\n")[0])
    p.add_argument("command", choices=["serve"])
    p.add_argument("--config")
    p.add_argument("--data-dir")
    p.add_argument("--mllp-listen")
    p.add_argument("--http-listen")
    p.add_argument("--ack-code")
    p.add_argument("--no-trailing-cr", action="store_true")
    p.add_argument("--split-ack", action="store_true")
    p.add_argument("--ack-delay", type=float, default=0.0)
    p.add_argument("--no-ack", action="store_true")
    p.add_argument("--omit-msa2", action="store_true")
    return p.parse_args(argv)


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args(sys.argv[1:]))))
