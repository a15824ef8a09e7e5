// An MLLP server built with npm `@medplum/hl7` (Hl7Server), for the MLLP benchmark
// (tests/bench/mllp_bench.sh).
//   node conformance/peers/medplum_hl7_server.mjs --port P     (0: any free port)
// Answers every message with msg.buildAck() (MSA|AA) from @medplum/core. Prints
// {"event":"listening","address":"127.0.0.1:PORT"} on stderr once listening; loopback only.
import { Hl7Server } from '@medplum/hl7';
import { announce, parsePort, startOnLoopback } from './loopback_listen.mjs';

const name = 'medplum_hl7_server';
const port = parsePort(process.argv, name);

let errors = 0;
const hl7 = new Hl7Server((connection) => {
  connection.addEventListener('message', ({ message }) => {
    connection.send(message.buildAck());
  });
  // Connection resets at the end of a run and unparsable input come here; only counted.
  connection.addEventListener('error', () => {
    errors += 1;
  });
});
process.on('exit', () => {
  if (errors) process.stderr.write(`${name}: ${errors} connection or parse errors\n`);
});

const server = startOnLoopback(() => hl7.start(port));
announce(server, name);
