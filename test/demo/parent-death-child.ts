// Fixture of parent-death.test.ts: starts `sleep` through diesWithParent, prints its pid, and waits to
// be killed.
import { spawn } from 'node:child_process';
import { diesWithParent } from '../../demo/parent-death.ts';

const { command, args } = diesWithParent('sleep', ['600']);
const child = spawn(command, args, { stdio: 'ignore' });
child.once('spawn', () => process.stdout.write(`${child.pid}\n`));
setInterval(() => {}, 60_000);
