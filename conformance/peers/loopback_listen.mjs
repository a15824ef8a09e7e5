// Shared by the MLLP peer servers of the benchmark (tests/bench/mllp_bench.sh).
//
// Both npm libraries call net.createServer(...).listen(port) with no host, which listens on every
// interface. The benchmark keeps to loopback, so while `start` runs, servers created through
// node:net listen on 127.0.0.1 instead. The libraries' own code paths are otherwise untouched.
import net from 'node:net';

/**
 * Runs start() (which creates and starts the library's server) with listen() kept to 127.0.0.1,
 * and returns the net.Server it created.
 */
export function startOnLoopback(start) {
  const createServer = net.createServer;
  let created;
  net.createServer = (...args) => {
    const server = createServer(...args);
    const listen = server.listen.bind(server);
    server.listen = (port, ...rest) =>
      typeof port === 'number' && (rest.length === 0 || typeof rest[0] === 'function')
        ? listen(port, '127.0.0.1', ...rest)
        : listen(port, ...rest);
    created = server;
    return server;
  };
  try {
    start();
  } finally {
    net.createServer = createServer;
  }
  if (!created) throw new Error('the library did not create a net.Server');
  return created;
}

/** Parses `--port P` (0 or absent: any free port). */
export function parsePort(argv, name) {
  const i = argv.indexOf('--port');
  const text = i >= 0 ? argv[i + 1] : '0';
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`${name}: --port wants 0..65535, got ${text}\n`);
    process.exit(2);
  }
  return port;
}

/** Prints the listening line the bench script waits for, and exits cleanly on SIGINT/SIGTERM. */
export function announce(server, name) {
  server.once('listening', () => {
    const { address, port } = server.address();
    process.stderr.write(JSON.stringify({ event: 'listening', address: `${address}:${port}` }) + '\n');
  });
  server.on('error', (err) => {
    process.stderr.write(`${name}: ${err.message}\n`);
    process.exit(1);
  });
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
}
