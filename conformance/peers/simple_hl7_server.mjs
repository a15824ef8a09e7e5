// An MLLP server built with npm `simple-hl7`, for the MLLP benchmark (tests/bench/mllp_bench.sh).
//   node conformance/peers/simple_hl7_server.mjs --port P     (0: any free port)
// Answers every message with the library's default ACK (MSA|AA, built by the server for each
// request) through res.end(). Prints {"event":"listening","address":"127.0.0.1:PORT"} on stderr
// once listening; loopback only.
import { createRequire } from 'node:module';
import { announce, parsePort, startOnLoopback } from './loopback_listen.mjs';

const require = createRequire(import.meta.url);
const hl7 = require('simple-hl7');
const name = 'simple_hl7_server';
const port = parsePort(process.argv, name);

const app = hl7.tcp();
app.use((req, res) => {
  res.end();
});
// Socket errors (a benchmark client closing its connections) and unparsable input arrive here;
// there is no request to answer, so they are only counted.
let errors = 0;
app.use((err, req, res, next) => {
  errors += 1;
  if (res) res.end();
  else void next;
});
process.on('exit', () => {
  if (errors) process.stderr.write(`${name}: ${errors} connection or parse errors\n`);
});

const server = startOnLoopback(() => app.start(port));
announce(server, name);
