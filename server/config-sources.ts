// Where sessiond's options come from: a YAML/JSON file, environment variables (secrets also from
// `<VAR>_FILE`), and command-line flags, later ones winning. Each value remembers how the user wrote
// it, so that every problem is reported as `--listen`, `STICKLESS_LISTEN` or `listen (in file.yaml)`.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { DEFAULT_SERVER_OPTIONS, parseServerConfig, SERVER_OPTIONS, ServerConfigError, type ConfigProblem, type ServerConfig } from './config.ts';

type Option = keyof ServerConfig;
const OPTIONS = Object.keys(SERVER_OPTIONS) as Option[];

/** `maxFields` → `max-fields`, the flag spelling. */
export const kebab = (option: string): string => option.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

export interface LoadedServerConfig {
  config: Readonly<ServerConfig>;
  /** How the user wrote `option` (flag, environment variable or file key); other strings unchanged. */
  nameOf(option: string): string;
}

/** Raw values with, for each option, the name it was given under. */
interface Layer {
  values: Record<string, unknown>;
  names: Record<string, string>;
}

/**
 * Reads flags, environment and config file, and validates them together. Returns undefined when
 * `--help` was asked for. Throws ServerConfigError whose problems already carry the written names.
 */
export function loadServerConfig(argv: readonly string[], env: NodeJS.ProcessEnv): LoadedServerConfig | undefined {
  const problems: ConfigProblem[] = [];
  const flags = readServerFlags(argv, problems);
  if (flags === 'help') return undefined;
  const fromEnv = readServerEnvLayer(env, problems);
  const configPath = flags.configPath ?? (env.STICKLESS_CONFIG || undefined);
  const fromFile: Layer = configPath ? readFileLayer(configPath, flags.configPath ? '--config' : 'STICKLESS_CONFIG', problems) : { values: {}, names: {} };
  const layers = [fromFile, fromEnv, flags.layer];
  const nameOf = (option: string): string => {
    for (let i = layers.length - 1; i >= 0; i--) if (layers[i]!.names[option]) return layers[i]!.names[option]!;
    return option;
  };
  if (problems.length > 0) throw new ServerConfigError(problems);
  try {
    return { config: parseServerConfig(...layers.map((layer) => layer.values)), nameOf };
  } catch (error) {
    if (!(error instanceof ServerConfigError)) throw error;
    throw new ServerConfigError(error.problems.map((p) => ({ option: nameOf(p.option), message: p.message })));
  }
}

/** Raw values from environment variables; lists are comma-separated, tokens are JSON. */
export function readServerEnv(env: NodeJS.ProcessEnv): Record<string, unknown> {
  const problems: ConfigProblem[] = [];
  const layer = readServerEnvLayer(env, problems);
  if (problems.length > 0) throw new ServerConfigError(problems);
  return layer.values;
}

function readServerEnvLayer(env: NodeJS.ProcessEnv, problems: ConfigProblem[]): Layer {
  const layer: Layer = { values: {}, names: {} };
  for (const option of OPTIONS) {
    const { env: name, sensitive } = SERVER_OPTIONS[option];
    let value = env[name] || undefined;
    let written = name;
    const fileVar = `${name}_FILE`;
    if (sensitive && env[fileVar]) {
      if (value !== undefined) {
        problems.push({ option: fileVar, message: `set either ${name} or ${fileVar}, not both` });
        continue;
      }
      value = readSecretFile(env[fileVar], fileVar, problems);
      written = fileVar;
    }
    if (value === undefined) continue;
    layer.values[option] = fromText(option, value, written, problems);
    layer.names[option] = written;
  }
  return layer;
}

function readSecretFile(path: string, name: string, problems: ConfigProblem[]): string | undefined {
  try {
    return readFileSync(path, 'utf8').replace(/\r?\n$/, '');
  } catch (error) {
    problems.push({ option: name, message: `cannot read ${path}: ${describeFsError(error)}` });
    return undefined;
  }
}

/** Turns the text of a flag or variable into the option's raw value. */
function fromText(option: Option, text: string, written: string, problems: ConfigProblem[]): unknown {
  if (option === 'redisSentinels' || option === 'redisClusterNodes') return text.split(',').map((s) => s.trim()).filter(Boolean);
  if (option !== 'namespaceTokens') return text;
  try {
    return JSON.parse(text);
  } catch {
    problems.push({ option: written, message: 'expected JSON such as {"<token of 16+ characters>": ["<namespace>"]}' });
    return undefined;
  }
}

/** Reads a YAML or JSON config file into raw option values. */
export function readServerConfigFile(path: string): Record<string, unknown> {
  const problems: ConfigProblem[] = [];
  const layer = readFileLayer(path, 'config file', problems);
  if (problems.length > 0) throw new ServerConfigError(problems);
  return layer.values;
}

function readFileLayer(path: string, written: string, problems: ConfigProblem[]): Layer {
  const layer: Layer = { values: {}, names: {} };
  let parsed: unknown;
  try {
    parsed = parseYaml(readFileSync(path, 'utf8'));
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ? describeFsError(error) : (error as Error).message.split('\n')[0];
    problems.push({ option: written, message: `cannot read ${path}: ${reason}` });
    return layer;
  }
  if (parsed === null || parsed === undefined) return layer;
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    problems.push({ option: written, message: `${path}: expected a mapping of options` });
    return layer;
  }
  layer.values = parsed as Record<string, unknown>;
  for (const key of Object.keys(layer.values)) layer.names[key] = `${key} (in ${path})`;
  return layer;
}

interface FlagsResult {
  configPath: string | undefined;
  layer: Layer;
}

function readServerFlags(argv: readonly string[], problems: ConfigProblem[]): FlagsResult | 'help' {
  const spec: Record<string, { type: 'string' | 'boolean' }> = { config: { type: 'string' }, help: { type: 'boolean' } };
  for (const option of OPTIONS) spec[kebab(option)] = { type: 'string' };
  const layer: Layer = { values: {}, names: {} };
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args: [...argv], options: spec, strict: true, allowPositionals: false }));
  } catch (error) {
    problems.push(describeFlagError(error as Error & { code?: string }));
    return { configPath: undefined, layer };
  }
  if (values.help) return 'help';
  for (const option of OPTIONS) {
    const value = values[kebab(option)];
    if (typeof value !== 'string') continue;
    const written = `--${kebab(option)}`;
    layer.values[option] = fromText(option, value, written, problems);
    layer.names[option] = written;
  }
  return { configPath: typeof values.config === 'string' ? values.config : undefined, layer };
}

function describeFlagError(error: Error & { code?: string }): ConfigProblem {
  const flag = /'(-[^' ]+)/.exec(error.message)?.[1] ?? /'([^']+)'/.exec(error.message)?.[1] ?? 'arguments';
  switch (error.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION': return { option: flag, message: 'unknown option (see --help)' };
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE': return { option: flag, message: 'expects a value' };
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL': return { option: flag, message: 'unexpected argument: options are --name value (see --help)' };
    default: return { option: 'arguments', message: error.message.split('\n')[0]! };
  }
}

/** Reads the files named by options; throws ServerConfigError naming each option whose file cannot be read. */
export function readOptionFiles<K extends string>(paths: Partial<Record<K, string>>): Partial<Record<K, Buffer>> {
  const problems: ConfigProblem[] = [];
  const contents: Partial<Record<K, Buffer>> = {};
  for (const [option, path] of Object.entries(paths) as Array<[K, string | undefined]>) {
    if (path === undefined) continue;
    try {
      contents[option] = readFileSync(path);
    } catch (error) {
      problems.push({ option, message: `cannot read ${path}: ${describeFsError(error)}` });
    }
  }
  if (problems.length > 0) throw new ServerConfigError(problems);
  return contents;
}

export function describeFsError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES') return 'permission denied';
  if (code === 'EISDIR') return 'is a directory';
  return code ?? (error as Error).message.split('\n')[0]!;
}

/** `--help`: every option with its flag, variable, default and meaning, from SERVER_OPTIONS. */
export function serverHelpText(): string {
  const defaults = DEFAULT_SERVER_OPTIONS as Partial<Record<Option, unknown>>;
  const shown = (value: unknown): string => {
    if (value === undefined) return 'none';
    if (value === '' || (typeof value === 'object' && value !== null && Object.keys(value).length === 0)) return 'empty';
    return typeof value === 'object' ? JSON.stringify(value) : String(value);
  };
  const lines = OPTIONS.map((option) => {
    const { env, help, sensitive } = SERVER_OPTIONS[option];
    const variable = sensitive ? `${env} or ${env}_FILE` : env;
    return `  --${kebab(option)} <value>\n      ${help}.\n      env ${variable}; file key ${option}; default: ${shown(defaults[option])}${sensitive ? '; secret' : ''}`;
  });
  return `Usage: node server/main.ts [--config file.yaml] [--<option> <value> ...]

Values come from defaults < config file (--config or STICKLESS_CONFIG) < environment < flags.
Secrets may also be read from the file that <VARIABLE>_FILE names. See docs/configuration.md.

  --config <file>
      YAML or JSON file of options (keys as below).
  --help
      Print this and exit.
${lines.join('\n')}
`;
}
