#!/usr/bin/env node
// Peer benchmark: @medplum/core's HL7 v2 parser on the same files and the same field reads as the
// CareBridge codec benchmark (tests/bench/codec_bench.cpp, BM_ParseAndRead).
//
//   node medplum_hl7_bench.mjs [--seconds N] FILE...      (default 5 seconds)
//
// Each file holds one message. Loop for about N seconds: for each message Hl7Message.parse(text)
// and the reads MSH-10, PID-3[1].1, PID-5.1, PID-7, PV1-19, PV1-45, DG1-3.1 (first DG1); the
// lengths of the values read go into a checksum so the work cannot be skipped. A warm-up of
// min(1 s, N/5) is run first and not counted. Prints one JSON line.
//
// Notes on the peer, from its source (node_modules/@medplum/core, src/hl7.ts):
// - parse() splits segments on /[\r\n]+/, so CR, LF and CRLF all work; it requires the text to
//   start with "MSH" (a UTF-8 BOM must be stripped first, which this script does).
// - getComponent() returns raw text: escape sequences are not decoded, whereas CareBridge decodes
//   them. The reads are otherwise the same values.
// - Files are read as UTF-8 unless MSH-18 names an ISO-8859 set (then latin1); "bytes" counts
//   file bytes, like the C++ benchmark.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Hl7Message } from '@medplum/core';

function usage(msg) {
  if (msg) process.stderr.write(`medplum_hl7_bench: ${msg}\n`);
  process.stderr.write('usage: node medplum_hl7_bench.mjs [--seconds N] FILE...\n');
  process.exit(2);
}

function medplumVersion() {
  // The package's exports map hides package.json; find it next to the resolved entry point.
  let dir = dirname(fileURLToPath(import.meta.resolve('@medplum/core')));
  for (let i = 0; i < 5; i++, dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
      if (pkg.name === '@medplum/core') return pkg.version;
    } catch {
      // keep walking up
    }
  }
  return 'unknown';
}

function decodeFile(buf) {
  let start = 0;
  if (buf.length >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) start = 3;
  const body = buf.subarray(start);
  // MSH-18 decides the character set; look at the first segment only.
  const firstEnd = body.findIndex((b) => b === 0x0d || b === 0x0a);
  const msh = body.subarray(0, firstEnd < 0 ? body.length : firstEnd).toString('latin1');
  const fs = msh.charAt(3);
  const msh18 = (msh.split(fs)[17] ?? '').trim().toUpperCase();
  return body.toString(msh18.startsWith('8859') ? 'latin1' : 'utf8');
}

const args = process.argv.slice(2);
let seconds = 5;
const files = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--seconds') {
    seconds = Number(args[++i]);
    if (!(seconds > 0)) usage('--seconds needs a positive number');
  } else if (args[i] === '-h' || args[i] === '--help') {
    usage();
  } else {
    files.push(args[i]);
  }
}
if (files.length === 0) usage('no files');

const texts = [];
let bytesPerPass = 0;
for (const f of files) {
  const buf = readFileSync(f);
  bytesPerPass += buf.length;
  texts.push(decodeFile(buf));
}

// One pass: parse every message and do the reads. Returns the sum of the value lengths.
function pass() {
  let sum = 0;
  for (const text of texts) {
    const msg = Hl7Message.parse(text);
    const msh = msg.getSegment('MSH');
    const pid = msg.getSegment('PID');
    const pv1 = msg.getSegment('PV1');
    const dg1 = msg.getSegment('DG1');
    sum += msh.getComponent(10, 1).length; // MSH-10 (getField handles the MSH offset)
    if (pid) {
      sum += pid.getComponent(3, 1).length; // PID-3.1, first repetition
      sum += pid.getComponent(5, 1).length; // PID-5.1
      sum += pid.getComponent(7, 1).length; // PID-7
    }
    if (pv1) {
      sum += (pv1.getField(19)?.toString() ?? '').length; // PV1-19 (whole field, like the C++ read)
      sum += pv1.getComponent(45, 1).length; // PV1-45
    }
    if (dg1) sum += dg1.getComponent(3, 1).length; // DG1-3.1 of the first DG1
  }
  return sum;
}

// Check once that the reads find what they should, so a parser change cannot go unnoticed.
{
  const m = Hl7Message.parse(texts[0]);
  if (!m.getSegment('MSH') || m.getSegment('MSH').getComponent(10, 1) === '') {
    process.stderr.write(`medplum_hl7_bench: ${files[0]}: no MSH-10 read\n`);
    process.exit(1);
  }
}

let checksum = 0;
const warmupEnd = performance.now() + Math.min(1000, (seconds * 1000) / 5);
while (performance.now() < warmupEnd) checksum += pass();

let passes = 0;
const t0 = performance.now();
const budget = seconds * 1000;
let elapsed = 0;
do {
  checksum += pass();
  passes++;
  elapsed = performance.now() - t0;
} while (elapsed < budget);

const secs = elapsed / 1000;
const messages = passes * texts.length;
const bytes = passes * bytesPerPass;
const round = (x, d) => Number(x.toFixed(d));
process.stdout.write(
  JSON.stringify({
    peer: '@medplum/core Hl7Message.parse',
    version: medplumVersion(),
    messages,
    bytes,
    seconds: round(secs, 3),
    msgs_per_sec: round(messages / secs, 0),
    mb_per_sec: round(bytes / secs / 1e6, 2),
    files: texts.length,
    checksum,
  }) + '\n',
);
