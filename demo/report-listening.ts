// Preloaded (`node --import`) into every node process of the local stack, next to exit-with-parent.ts:
// each TCP port the process starts listening on is reported to the stack over the IPC channel, so the
// stack knows that its own child listens. Seeing the port answer is not enough: while a killed replica
// is down another program may take its port, and a restart that trusted the port would hand the
// proxy a stranger (demo/managed-process.ts waits for this report instead).
import cluster from 'node:cluster';
import { subscribe } from 'node:diagnostics_channel';
import type { Server } from 'node:net';

/** The message a child sends for each port it listens on. */
export interface ListeningReport {
  stickless: 'listening';
  port: number;
}

// A node:cluster worker's channel leads to its primary, not to the stack.
if (process.channel && cluster.isPrimary) {
  subscribe('tracing:net.server.listen:asyncEnd', (message) => {
    const address = (message as { server: Server }).server.address();
    if (typeof address !== 'object' || address === null || !process.connected) return;
    const report: ListeningReport = { stickless: 'listening', port: address.port };
    process.send!(report);
  });
}
