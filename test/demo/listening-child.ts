// Fixture of managed-process.test.ts: an HTTP server on the port given as argument that answers
// "child", started the way the local stack starts its node processes (nodeScript).
import { createServer } from 'node:http';

createServer((_req, res) => res.end('child')).listen(Number(process.argv[2]), '127.0.0.1');
