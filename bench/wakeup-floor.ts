// The wake-up floor beside the web rows: a bare node:net echo server in its own process, sent one
// 64-byte message at a time (the next once the answer is back) at the message rates a cart-app
// replica and sessiond see in the scenario, and at 1,000/s. CPU per message of the server (from
// /proc) and of this process (the sender). Neither does anything but read and write, so what a
// message costs them is what waking a Node process costs on this machine at that rate: the part of a
// central write (two wake-ups of sessiond, one more of the replica) that no code of ours can remove.
import { connect, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { freePort, waitForPort, type ChildProcesses } from './child-processes.ts';
import { formatTable } from './markdown-table.ts';
import { ownCpuMs, processCpuMs } from './process-cpu.ts';

const SERVER_MAIN = fileURLToPath(new URL('./transport-peer-server.ts', import.meta.url));
/** Messages per second, one at a time: about a replica's writes in the web rows, up to the lag target's rate. */
export const FLOOR_RATES = [30, 100, 300, 1000] as const;
const MESSAGE = Buffer.alloc(64, 7);
/** A bound for an echo that never comes back, not a speed limit. */
const ANSWER_TIMEOUT_MS = 5000;

export interface WakeupFloorOptions {
  children: ChildProcesses;
  durationMs: number;
  log: (line: string) => void;
  onRow?: ((row: Record<string, unknown>) => void) | undefined;
}

export async function runWakeupFloor(options: WakeupFloorOptions): Promise<string> {
  const port = await freePort();
  const child = options.children.start({ name: 'tcp echo server', command: process.execPath, args: [SERVER_MAIN, 'tcp', String(port)] });
  const rows: Array<{ rate: number; messages: number; serverCpuUs: number; senderCpuUs: number }> = [];
  try {
    await waitForPort(port, child, 60_000); // a bound for a server that never listens, not a speed limit
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => {});
    await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    try {
      for (const rate of FLOOR_RATES) {
        const messages = Math.max(1, Math.round((rate * options.durationMs) / 1000));
        const server0 = processCpuMs(child.process.pid);
        const sender0 = ownCpuMs();
        const startedAt = Date.now();
        for (let i = 0; i < messages; i++) {
          const wait = startedAt + (i * 1000) / rate - Date.now();
          if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
          await echo(socket);
        }
        const row = { rate, messages, serverCpuUs: ((processCpuMs(child.process.pid) - server0) * 1000) / messages, senderCpuUs: ((ownCpuMs() - sender0) * 1000) / messages };
        options.log(`  ${rate} messages/s: server ${row.serverCpuUs.toFixed(0)} µs, sender ${row.senderCpuUs.toFixed(0)} µs of CPU per message`);
        options.onRow?.({ section: 'web-wakeup-floor', durationMs: options.durationMs, ...row });
        rows.push(row);
      }
    } finally {
      socket.destroy();
    }
  } finally {
    await options.children.stop(child);
  }
  return [
    formatTable(['messages/s, one at a time', 'messages', 'echo server CPU µs/message', 'sender CPU µs/message'],
      rows.map((r) => [String(r.rate), String(r.messages), r.serverCpuUs.toFixed(0), r.senderCpuUs.toFixed(0)])),
    '',
    'A bare node:net echo server (its own process) and this process as the sender: all either does is read and write a 64-byte message. ' +
      'The server\'s CPU comes from /proc in 10 ms ticks (at 30/s that is within about ±10% over 10 s). ' +
      'In the web rows a write in soft + central + near cache wakes sessiond twice (the call; Redis\' reply and the change it publishes) and its replica once more than hard + local does.',
  ].join('\n');
}

function echo(socket: Socket): Promise<void> {
  return new Promise((resolve, reject) => {
    let received = 0;
    const timer = setTimeout(() => done(new Error(`no echo within ${ANSWER_TIMEOUT_MS} ms`)), ANSWER_TIMEOUT_MS);
    const onData = (chunk: Buffer) => {
      received += chunk.length;
      if (received >= MESSAGE.length) done();
    };
    function done(error?: Error): void {
      clearTimeout(timer);
      socket.off('data', onData);
      if (error) reject(error);
      else resolve();
    }
    socket.on('data', onData);
    socket.write(MESSAGE);
  });
}
