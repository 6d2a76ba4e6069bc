// A DNS server for the compose test's network that answers every question at once with "no such
// record" (NOERROR, no answer). Docker's embedded DNS answers container names itself and forwards
// every other name (a stopped container's, for one) to the servers in the daemon's --dns; with no
// upstream resolver reachable each such lookup would hang for seconds, stalling Sentinel into TILT.
//   node dns-stub.ts [port]   (default 53, all interfaces, UDP)
import { createSocket } from 'node:dgram';

const port = Number(process.argv[2] ?? 53);
const socket = createSocket('udp4');
socket.on('message', (query, peer) => {
  if (query.length < 12) return;
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
socket.bind(port, () => process.stdout.write(`dns-stub: answering every query with no records on udp ${port}\n`));
process.on('SIGTERM', () => process.exit(0));
