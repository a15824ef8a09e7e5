#!/usr/bin/env node
// Sends HL7 v2 messages to an MLLP server with node-hl7-client (Client / Connection / Message, the
// library's own framing and ACK reading) and checks the ACKs.
//
// usage: node node_hl7_client.mjs [--tls --ca FILE [--cert FILE --key FILE]] [--expect-refused]
//                                 [--timeout SECONDS] HOST PORT FILE...
//
// One connection; one message at a time (the library's waitAck mode: the next message is sent when
// the previous ACK has arrived). Each file holds one message, or several (each MSH starts one;
// FHS/BHS/BTS/FTS are left out); line ends are sent as \r. For every message the ACK, as the
// library parses it, is checked: MSA-1 is AA or CA; MSA-2 equals the sent MSH-10; the ACK's
// MSH-5/MSH-6 equal the sent MSH-3/MSH-4; MSH-9.1 is ACK; MSH-12 (version) is echoed.
// --tls: TLS via the library's `tls` option (node:tls), the server verified against --ca (its
// certificate must name 127.0.0.1 / localhost), --cert/--key presented as the client certificate.
// --expect-refused: succeeds only if no message is answered (the connection fails or closes).
// Prints one summary line on success; otherwise one line per failure on stderr, exit status 1.
//
// Run from conformance/ after `npm ci` (node_modules/node-hl7-client).
import fs from 'node:fs'
import path from 'node:path'
import process from 'node:process'
import { Client, Message } from 'node-hl7-client'

const usage = 'usage: node node_hl7_client.mjs [--tls --ca FILE [--cert FILE --key FILE]] ' +
  '[--expect-refused] [--timeout SECONDS] HOST PORT FILE...'

function parseArgs (argv) {
  const o = { tls: false, expectRefused: false, timeout: 10, positional: [] }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`)
      return argv[++i]
    }
    if (a === '--tls') o.tls = true
    else if (a === '--ca') o.ca = value()
    else if (a === '--cert') o.cert = value()
    else if (a === '--key') o.key = value()
    else if (a === '--timeout') o.timeout = Number(value())
    else if (a === '--expect-refused') o.expectRefused = true
    else if (a.startsWith('--')) throw new Error(`unknown option ${a}`)
    else o.positional.push(a)
  }
  if (o.positional.length < 3) throw new Error('HOST PORT FILE... needed')
  if (o.tls && !o.ca) throw new Error('--tls needs --ca')
  if (Boolean(o.cert) !== Boolean(o.key)) throw new Error('--cert and --key go together')
  if (!(o.timeout > 0)) throw new Error('--timeout must be a positive number')
  ;[o.host, o.port] = [o.positional[0], Number(o.positional[1])]
  if (!Number.isInteger(o.port) || o.port < 1 || o.port > 65535) throw new Error('bad PORT')
  o.files = o.positional.slice(2)
  return o
}

const ENVELOPE = new Set(['FHS', 'BHS', 'BTS', 'FTS'])

// [{label, text}]; files read as latin1 and sent as latin1, i.e. byte for byte.
function loadMessages (files) {
  const out = []
  for (const file of files) {
    let data = fs.readFileSync(file, 'latin1')
    if (data.startsWith('\u00ef\u00bb\u00bf')) data = data.slice(3) // UTF-8 BOM
    const segments = data.replace(/\r\n|\n/g, '\r').split('\r').filter(s => s.trim() !== '')
    const messages = []
    let current = []
    for (const s of segments) {
      if (ENVELOPE.has(s.slice(0, 3))) continue
      if (s.startsWith('MSH') && current.length > 0) {
        messages.push(current)
        current = []
      }
      current.push(s)
    }
    if (current.length > 0) messages.push(current)
    const name = path.basename(file)
    messages.forEach((m, i) => out.push({
      label: messages.length === 1 ? name : `${name}#${i + 1}`,
      text: m.join('\r')
    }))
  }
  return out
}

// The raw (still escaped) text at PATH, '' when absent: compared byte for byte.
function raw (message, path) {
  try {
    const node = message.get(path)
    return node.isEmpty() ? '' : node.toRaw()
  } catch {
    return ''
  }
}

function checkAck (label, sent, ack) {
  const fails = []
  const code = raw(ack, 'MSA.1')
  const msa2 = raw(ack, 'MSA.2')
  if (code !== 'AA' && code !== 'CA') fails.push(`${label}: MSA-1 is '${code}', expected AA or CA`)
  if (msa2 !== raw(sent, 'MSH.10')) {
    fails.push(`${label}: MSA-2 is '${msa2}', expected the sent MSH-10 '${raw(sent, 'MSH.10')}'`)
  }
  for (const [mine, theirs] of [['MSH.5', 'MSH.3'], ['MSH.6', 'MSH.4'], ['MSH.12', 'MSH.12']]) {
    if (raw(ack, mine) !== raw(sent, theirs)) {
      fails.push(`${label}: ACK ${mine.replace('.', '-')} is '${raw(ack, mine)}', ` +
        `expected the sent ${theirs.replace('.', '-')} '${raw(sent, theirs)}'`)
    }
  }
  if (raw(ack, 'MSH.9.1') !== 'ACK') fails.push(`${label}: ACK MSH-9 is '${raw(ack, 'MSH.9')}', expected ACK^…`)
  return fails
}

// Error texts from OpenSSL carry newlines; failures are one line each.
function oneLine (text) {
  return String(text).replace(/\s+/g, ' ').trim()
}

function withTimeout (promise, seconds, what) {
  let timer
  const t = new Promise((resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} within ${seconds} s`)), seconds * 1000)
  })
  return Promise.race([promise, t]).finally(() => clearTimeout(timer))
}

async function run (o, messages) {
  const tls = o.tls
    ? {
        ca: fs.readFileSync(o.ca),
        ...(o.cert ? { cert: fs.readFileSync(o.cert), key: fs.readFileSync(o.key) } : {}),
        minVersion: 'TLSv1.2'
      }
    : undefined
  // connectionTimeout 0: in 3.2.0 a non-zero value destroys the socket after that time even when
  // it is connected and busy.
  const client = new Client({ host: o.host, connectionTimeout: 0, ...(tls ? { tls } : {}) })

  let pending = null // {resolve, reject} of the ACK we wait for
  let closed = null // why the connection ended, if it did
  const conn = client.createConnection(
    { port: o.port, encoding: 'latin1', waitAck: true, maxConnectionAttempts: 1 },
    async (res) => {
      const p = pending
      pending = null
      if (p) p.resolve(res.getMessage())
      else closed = closed ?? new Error('an ACK arrived that nobody waited for')
    })
  // Observation only (the library keeps socket errors to itself when connectionTimeout is 0):
  // an error or a close ends the wait for an ACK at once, with the reason.
  let lastError = null
  const sock = conn._socket
  sock?.on('error', (e) => { lastError = e })
  sock?.on('close', () => {
    closed = closed ?? (lastError ?? new Error('connection closed by the server'))
    if (pending) {
      const p = pending
      pending = null
      p.reject(closed)
    }
  })

  const fails = []
  let acked = 0
  try {
    await withTimeout(new Promise((resolve, reject) => {
      conn.once('connect', resolve)
      sock?.once('close', () => reject(closed))
    }), o.timeout, 'no connection')
    for (const { label, text } of messages) {
      if (closed) {
        fails.push(`${label}: connection closed before sending (${closed.message})`)
        break
      }
      const sent = new Message({ text })
      const ackPromise = new Promise((resolve, reject) => { pending = { resolve, reject } })
      ackPromise.catch(() => {}) // handled below; avoids an unhandled rejection on early close
      await conn.sendMessage(sent)
      let ack
      try {
        ack = await withTimeout(ackPromise, o.timeout, 'no ACK')
      } catch (e) {
        fails.push(`${label}: ${oneLine(e.message)}`)
        break
      }
      acked++
      fails.push(...checkAck(label, sent, ack))
    }
  } catch (e) {
    fails.push(`connection failed (${e.code ?? ''}${e.code ? ': ' : ''}${oneLine(e.message)})`)
  } finally {
    pending = null
    await conn.close()
    client.closeAll()
  }
  return { fails, acked }
}

async function main () {
  let o
  try {
    o = parseArgs(process.argv.slice(2))
  } catch (e) {
    console.error(`node_hl7_client: ${e.message}\n${usage}`)
    return 2
  }
  const messages = loadMessages(o.files)
  if (messages.length === 0) {
    console.error('node_hl7_client: no messages in the files')
    return 2
  }
  const mode = `node-hl7-client${o.tls ? ' (TLS)' : ''}`
  const { fails, acked } = await run(o, messages)
  if (o.expectRefused) {
    if (acked === 0) {
      console.log(`${mode}: refused as expected (${fails[0] ?? 'no answer'})`)
      return 0
    }
    console.error(`${mode}: ${acked} messages were answered; the connection should have been refused`)
    return 1
  }
  for (const f of fails) console.error(`${mode}: ${f}`)
  if (fails.length > 0) return 1
  const n = messages.length
  console.log(`${mode}: ${n} message${n === 1 ? '' : 's'}, all acknowledged`)
  return 0
}

process.exitCode = await main()
