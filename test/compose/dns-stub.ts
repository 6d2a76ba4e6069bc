// A DNS server for the compose test's network. Docker's embedded DNS answers container names itself
// and forwards every other name (a stopped container's, for one) to the servers in the daemon's
// --dns, which is this stub. Two modes:
//   answer  (the default; SIGUSR2)  every question answered at once with "no such record" (NOERROR,
//           no answer), as a reachable upstream resolver would
//   stall   (SIGUSR1)  no question is ever answered, as on a laptop without network whose resolver
//           drops queries: each forwarded lookup then takes as long as the asker's timeouts
// The live test switches to stall while it kills the Redis primary, to prove that failover does not
// depend on how fast a lookup of the dead container's name fails.
//   node dns-stub.ts [port]   (default 53, all interfaces, UDP)
import { createSocket } from 'node:dgram';

const port = Number(process.argv[2] ?? 53);
let stall = false;
let dropped = 0;
const socket = createSocket('udp4');
socket.on('message', (query, peer) => {
  if (query.length < 12) return;
  if (stall) {
    dropped += 1;
    // Said for each of the first queries: which names still leave Docker's DNS (a figure of the test).
    if (dropped <= 20) process.stdout.write(`dns-stub: left unanswered: ${question(query)}\n`);
    return;
  }
  const reply = Buffer.from(query);
  // Flags: QR=1 (response), the query's opcode and RD kept, RA=1, RCODE=0; no answer records.
  reply[2] = 0x80 | (query[2]! & 0x79);
  reply[3] = 0x80;
  reply.writeUInt16BE(0, 6);
  reply.writeUInt16BE(0, 8);
  reply.writeUInt16BE(0, 10);
  // Keep only the header and the first question (drop EDNS and any other additional records).
  let end = 12;
  while (end < reply.length && reply[end] !== 0) end += reply[end]! + 1;
  reply.writeUInt16BE(Math.min(1, query.readUInt16BE(4)), 4);
  socket.send(reply.subarray(0, Math.min(reply.length, end + 5)), peer.port, peer.address);
});
/** `name type` of a query's first question, for the log. */
function question(query: Buffer): string {
  const labels: string[] = [];
  let at = 12;
  while (at < query.length && query[at]! > 0 && query[at]! < 64) {
    labels.push(query.toString('latin1', at + 1, at + 1 + query[at]!));
    at += query[at]! + 1;
  }
  const type = at + 3 <= query.length ? query.readUInt16BE(at + 1) : 0;
  return `${labels.join('.')}. ${({ 1: 'A', 12: 'PTR', 28: 'AAAA', 33: 'SRV' } as Record<number, string>)[type] ?? `type ${type}`}`;
}

socket.bind(port, () => process.stdout.write(`dns-stub: answering every query with no records on udp ${port}\n`));
process.on('SIGUSR1', () => {
  stall = true;
  dropped = 0;
  process.stdout.write('dns-stub: stall: no query is answered from now on\n');
});
process.on('SIGUSR2', () => {
  stall = false;
  process.stdout.write(`dns-stub: answering again (${dropped} queries left unanswered while stalled)\n`);
});
process.on('SIGTERM', () => process.exit(0));
