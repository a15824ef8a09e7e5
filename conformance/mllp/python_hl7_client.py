#!/usr/bin/python3
"""Sends HL7 v2 messages to an MLLP server with python-hl7's own clients and checks the ACKs.

usage: python_hl7_client.py [--pipelined] [--tls --ca FILE --cert FILE --key FILE]
                            [--expect-refused] [--timeout SECONDS] HOST PORT FILE...

Modes (all framing is python-hl7's, none is written here):
  default       hl7.client.MLLPClient (the client behind `mllp_send`): one connection, one message
                at a time, send_message() then the single read it does for the answer.
  --pipelined   hl7.mllp.open_hl7_connection (asyncio streams): writes every frame first, then
                reads the ACKs with readblock(); they must come back in order.
  --tls ...     hl7.mllp.open_hl7_connection over TLS (MLLPClient has no TLS), verifying the server
                against --ca and presenting --cert/--key.
  --expect-refused  succeeds only if no message is acknowledged (e.g. an untrusted client
                certificate): the connection must fail or close without an ACK.

Each file holds one message, or several (each MSH starts one; FHS/BHS/BTS/FTS are left out). Line
ends are sent as \\r. For every message the ACK is parsed with hl7.parse and checked:
  MSA-1 is AA or CA; MSA-2 equals the sent MSH-10; the ACK's MSH-5/MSH-6 equal the sent
  MSH-3/MSH-4; MSH-9.1 is ACK; MSH-12 (version) is echoed.
Prints one summary line on success; otherwise one line per failure on stderr, exit status 1
(2 for a usage error). Needs python3-hl7 (Debian) and /usr/bin/python3.
"""

import argparse
import asyncio
import os
import socket
import ssl
import sys

try:
    import hl7
    import hl7.client
    import hl7.mllp
except ImportError:  # pragma: no cover
    sys.stderr.write("python_hl7_client: python-hl7 is missing: apt-get install python3-hl7, "
                     "and run with /usr/bin/python3\n")
    sys.exit(2)

ENVELOPE = (b"FHS", b"BHS", b"BTS", b"FTS")
CODEC = "latin-1"  # byte-transparent: identifiers are compared byte for byte


def load_messages(paths):
    """[(label, bytes)]: each message of each file, segments joined and ended by \\r."""
    out = []
    for path in paths:
        with open(path, "rb") as f:
            data = f.read()
        if data.startswith(b"\xef\xbb\xbf"):
            data = data[3:]
        segments = [s for s in data.replace(b"\r\n", b"\r").replace(b"\n", b"\r").split(b"\r")
                    if s.strip()]
        current = []
        messages = []
        for s in segments:
            if s[:3] in ENVELOPE:
                continue
            if s.startswith(b"MSH") and current:
                messages.append(current)
                current = []
            current.append(s)
        if current:
            messages.append(current)
        for i, m in enumerate(messages):
            name = os.path.basename(path)
            label = name if len(messages) == 1 else f"{name}#{i + 1}"
            out.append((label, b"\r".join(m) + b"\r"))
    return out


def field(segment, n):
    return str(segment[n]) if n < len(segment) else ""


def header(message):
    """MSH fields of a parsed hl7.Message, by HL7 number."""
    msh = message.segment("MSH")
    return {n: field(msh, n) for n in range(1, 13)}


def check_ack(label, sent_bytes, ack):
    """A list of failure lines for one message and its ACK (an hl7.Message, or None)."""
    if ack is None:
        return [f"{label}: no ACK"]
    sent = header(hl7.parse(sent_bytes, encoding=CODEC))
    try:
        got = header(ack)
        msa = ack.segment("MSA")
    except KeyError as e:
        return [f"{label}: ACK has no {str(e).strip(chr(39))}"]
    fails = []
    comp = got[2][:1] or "^"
    code, msa2 = field(msa, 1), field(msa, 2)
    if code not in ("AA", "CA"):
        fails.append(f"{label}: MSA-1 is '{code}', expected AA or CA")
    if msa2 != sent[10]:
        fails.append(f"{label}: MSA-2 is '{msa2}', expected the sent MSH-10 '{sent[10]}'")
    if got[5] != sent[3]:
        fails.append(f"{label}: ACK MSH-5 is '{got[5]}', expected the sent MSH-3 '{sent[3]}'")
    if got[6] != sent[4]:
        fails.append(f"{label}: ACK MSH-6 is '{got[6]}', expected the sent MSH-4 '{sent[4]}'")
    if got[9].split(comp)[0] != "ACK":
        fails.append(f"{label}: ACK MSH-9 is '{got[9]}', expected ACK^…")
    if got[12] != sent[12]:
        fails.append(f"{label}: ACK MSH-12 is '{got[12]}', expected the sent version '{sent[12]}'")
    return fails


def parse_ack(label, raw):
    """python-hl7's parse of an ACK block; (message, failure line)."""
    try:
        return hl7.parse(raw, encoding=CODEC), None
    except Exception as e:  # python-hl7 raises several types on garbage
        return None, f"{label}: ACK does not parse with hl7.parse ({type(e).__name__}: {e})"


def run_mllpclient(host, port, messages, timeout):
    """hl7.client.MLLPClient: one connection, one message at a time."""
    fails, acked = [], 0
    with hl7.client.MLLPClient(host, port) as client:
        client.socket.settimeout(timeout)
        for label, msg in messages:
            try:
                raw = client.send_message(msg)
            except socket.timeout:
                fails.append(f"{label}: no ACK within {timeout:g} s")
                break
            except OSError as e:
                fails.append(f"{label}: connection failed ({e})")
                break
            if not raw:
                fails.append(f"{label}: connection closed without an ACK")
                break
            # MLLPClient returns the bytes of one recv(4096): the whole frame must be in them.
            if not (raw.startswith(hl7.client.SB) and raw.endswith(hl7.client.EB + hl7.client.CR)):
                fails.append(f"{label}: the answer read by MLLPClient is not one whole frame "
                             f"<VT>…<FS><CR> ({len(raw)} bytes, ends {raw[-2:]!r})")
                break
            acked += 1
            ack, bad = parse_ack(label, raw[1:-2])
            fails += [bad] if bad else check_ack(label, msg, ack)
    return fails, acked


async def run_streams(host, port, messages, timeout, pipelined, tls_ctx):
    """hl7.mllp asyncio streams, optionally over TLS; sequential or pipelined."""
    kwargs = {"ssl": tls_ctx, "server_hostname": host} if tls_ctx else {}
    try:
        reader, writer = await asyncio.wait_for(
            hl7.mllp.open_hl7_connection(host, port, encoding=CODEC, **kwargs), timeout)
    except (OSError, ssl.SSLError, asyncio.TimeoutError) as e:
        return [f"connection failed ({type(e).__name__}: {e})"], 0
    fails, acked = [], 0

    async def read_block(label):
        """(ACK block bytes, None) or (None, failure line)."""
        try:
            return await asyncio.wait_for(reader.readblock(), timeout), None
        except asyncio.TimeoutError:
            return None, f"{label}: no whole ACK frame (<VT>…<FS><CR>) within {timeout:g} s"
        except asyncio.IncompleteReadError:
            return None, f"{label}: connection closed without an ACK"
        except hl7.mllp.InvalidBlockError as e:
            return None, f"{label}: ACK frame invalid ({e})"
        except (OSError, ssl.SSLError) as e:
            return None, f"{label}: connection failed ({type(e).__name__}: {e})"

    try:
        if pipelined:
            for _, msg in messages:
                writer.writeblock(msg)
            await writer.drain()
        for label, msg in messages:
            if not pipelined:
                writer.writeblock(msg)
                await writer.drain()
            block, bad = await read_block(label)
            if bad:
                fails.append(bad)
                break
            acked += 1
            ack, bad = parse_ack(label, block)
            fails += [bad] if bad else check_ack(label, msg, ack)
    except (OSError, ssl.SSLError) as e:
        fails.append(f"connection failed ({type(e).__name__}: {e})")
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except (OSError, ssl.SSLError):
            pass
    return fails, acked


def main(argv):
    p = argparse.ArgumentParser(prog="python_hl7_client.py")
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("files", nargs="+")
    p.add_argument("--pipelined", action="store_true")
    p.add_argument("--tls", action="store_true")
    p.add_argument("--ca")
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--expect-refused", action="store_true")
    p.add_argument("--timeout", type=float, default=10.0)
    a = p.parse_args(argv)
    if a.tls and not a.ca:
        p.error("--tls needs --ca")
    if bool(a.cert) != bool(a.key):
        p.error("--cert and --key go together")

    messages = load_messages(a.files)
    if not messages:
        p.error("no messages in the files")

    tls_ctx = None
    if a.tls:
        tls_ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=a.ca)
        if a.cert:
            tls_ctx.load_cert_chain(a.cert, a.key)

    if a.tls or a.pipelined:
        mode = "python-hl7 (hl7.mllp asyncio" + (", TLS" if a.tls else "") + \
            (", pipelined" if a.pipelined else "") + ")"
        fails, acked = asyncio.run(run_streams(a.host, a.port, messages, a.timeout, a.pipelined, tls_ctx))
    else:
        mode = "python-hl7 (hl7.client.MLLPClient)"
        try:
            fails, acked = run_mllpclient(a.host, a.port, messages, a.timeout)
        except OSError as e:
            fails, acked = [f"connection failed ({e})"], 0

    if a.expect_refused:
        if acked == 0:
            print(f"{mode}: refused as expected ({fails[0] if fails else 'no answer'})")
            return 0
        print(f"{mode}: {acked} messages were answered; the connection should have been refused",
              file=sys.stderr)
        return 1
    for f in fails:
        print(f"{mode}: {f}", file=sys.stderr)
    if fails:
        return 1
    n = len(messages)
    print(f"{mode}: {n} message{'' if n == 1 else 's'}, all acknowledged")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
