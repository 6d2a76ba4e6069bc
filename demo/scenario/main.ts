// `npm run scenario`: the six-way comparison on the local stack; prints the table (or, with --json,
// one JSON object per configuration and line), writes the HTML report.
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { startLocalStack } from '../stack.ts';
import { formatTable, renderHtmlReport, toJson } from './report.ts';
import { DEFAULT_SCENARIO_OPTIONS, runScenario } from './run-scenario.ts';

const { values } = parseArgs({
  options: {
    shoppers: { type: 'string' }, 'duration-ms': { type: 'string' }, out: { type: 'string' }, memory: { type: 'boolean' }, json: { type: 'boolean' }, help: { type: 'boolean' },
  },
});
if (values.help) {
  process.stdout.write('Usage: npm run scenario -- [--shoppers 30] [--duration-ms 9000] [--out scenario-report.html] [--memory] [--json]\n');
  process.exit(0);
}
const positive = (value: string | undefined, fallback: number, name: string): number => {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) {
    process.stderr.write(`scenario: ${name} must be a positive integer\n`);
    process.exit(2);
  }
  return n;
};
const options = {
  ...DEFAULT_SCENARIO_OPTIONS,
  shoppers: positive(values.shoppers, DEFAULT_SCENARIO_OPTIONS.shoppers, '--shoppers'),
  durationMs: positive(values['duration-ms'], DEFAULT_SCENARIO_OPTIONS.durationMs, '--duration-ms'),
};
const out = values.out ?? 'scenario-report.html';
const log = (line: string): void => void process.stderr.write(`[scenario] ${line}\n`);

// Interrupted (Ctrl-C, or a test's timeout): exit, which kills every child of the stack.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(1));
const startedAt = new Date();
const stack = await startLocalStack({ proxyPort: 0, adminPort: 0, sessiondPort: 0, healthIntervalMs: 300, store: values.memory ? 'memory' : 'auto', log });
try {
  const results = await runScenario(stack, options, log);
  if (values.json) for (const result of results) process.stdout.write(`${JSON.stringify(toJson(result))}\n`);
  else process.stdout.write(`${formatTable(results)}\n`);
  const command = `npm run scenario -- --shoppers ${options.shoppers} --duration-ms ${options.durationMs}${values.memory ? ' --memory' : ''}`;
  writeFileSync(out, renderHtmlReport(results, { command, startedAt, store: stack.storeDescription, durationMs: options.durationMs, shoppers: options.shoppers }));
  log(`report written to ${out}`);
} finally {
  await stack.stop();
}
