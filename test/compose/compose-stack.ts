// docker-compose.yml (plus test/compose/compose.override.yml) run under a private project name on a
// private dockerd, with the few operations the live test needs. Debian's docker-compose 1.29 (compose
// v1) is the CLI: Docker's v2 plugin is not packaged here.
import { setTimeout as sleep } from 'node:timers/promises';
import { run, type RunResult } from './exec.ts';

export interface ComposeStackOptions {
  root: string;
  /** The compose file under test (docker-compose.yml, or an older one to compare). */
  composeFile: string;
  dockerHost: string;
  project: string;
  /**
   * Host ports: the proxy's data port is published on httpPort; adminPort is what STICKLESS_ADMIN_PORT
   * says, which only older compose files published (the test checks that nothing answers there).
   */
  httpPort: number;
  adminPort: number;
}

export interface ContainerState {
  id: string;
  service: string;
  /** running | exited | … */
  status: string;
  /** healthy | unhealthy | starting | none */
  health: string;
}

export class ComposeStack {
  readonly options: ComposeStackOptions;

  constructor(options: ComposeStackOptions) {
    this.options = options;
  }

  get #env(): Record<string, string> {
    return {
      DOCKER_HOST: this.options.dockerHost,
      STICKLESS_HTTP_PORT: String(this.options.httpPort),
      STICKLESS_ADMIN_PORT: String(this.options.adminPort),
      // compose v1 gives up on a slow engine after 60 s by default; a loaded 2-core machine needs more.
      COMPOSE_HTTP_TIMEOUT: '300',
    };
  }

  compose(args: string[], options: { timeoutMs?: number; allowFailure?: boolean; echo?: boolean } = {}): Promise<RunResult> {
    const files = ['-f', this.options.composeFile, '-f', 'test/compose/compose.override.yml'];
    return run('docker-compose', ['--project-directory', this.options.root, '-p', this.options.project, ...files, ...args], { cwd: this.options.root, env: this.#env, ...options });
  }

  docker(args: string[], options: { timeoutMs?: number; allowFailure?: boolean } = {}): Promise<RunResult> {
    return run('docker', args, { env: this.#env, ...options });
  }

  /** Every container of the project, running or not. */
  async containers(): Promise<ContainerState[]> {
    const ids = (await this.docker(['ps', '-aq', '--filter', `label=com.docker.compose.project=${this.options.project}`])).stdout.split('\n').filter(Boolean);
    if (ids.length === 0) return [];
    const format = '{{.Id}}|{{index .Config.Labels "com.docker.compose.service"}}|{{.State.Status}}|{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}';
    const lines = (await this.docker(['inspect', '--format', format, ...ids])).stdout.split('\n').filter(Boolean);
    return lines.map((line) => {
      const [id, service, status, health] = line.split('|') as [string, string, string, string];
      return { id, service, status, health };
    });
  }

  /** Polls until every container runs and is healthy (and `expected` many exist); returns ms waited. */
  async waitAllHealthy(expected: number, timeoutMs: number): Promise<number> {
    const started = Date.now();
    let last: ContainerState[] = [];
    while (Date.now() - started < timeoutMs) {
      last = await this.containers();
      if (last.length === expected && last.every((c) => c.status === 'running' && c.health === 'healthy')) return Date.now() - started;
      await sleep(2000);
    }
    const summary = last.map((c) => `${c.service} ${c.id.slice(0, 12)} ${c.status}/${c.health}`).join(', ');
    throw new Error(`not every service healthy within ${timeoutMs} ms (${last.length} of ${expected} containers): ${summary}`);
  }

  /** The container id of a one-replica service. */
  async containerOf(service: string): Promise<string> {
    const found = (await this.containers()).filter((c) => c.service === service);
    if (found.length !== 1) throw new Error(`${service}: expected one container, found ${found.length}`);
    return found[0]!.id;
  }

  /** redis-cli inside a service's container; the reply's lines. */
  async redisCli(service: string, args: string[]): Promise<string[]> {
    const result = await this.docker(['exec', await this.containerOf(service), 'timeout', '5', 'redis-cli', ...args], { allowFailure: true, timeoutMs: 20_000 });
    return (result.stdout + result.stderr).split('\n').map((line) => line.trim()).filter(Boolean);
  }

  /** The master a sentinel names (`host:port`), or undefined when it does not answer. */
  async sentinelMaster(sentinel: string): Promise<string | undefined> {
    const reply = await this.redisCli(sentinel, ['-p', '26379', 'sentinel', 'get-master-addr-by-name', 'mymaster']);
    return reply.length === 2 && /^\d+$/.test(reply[1]!) ? `${reply[0]}:${reply[1]}` : undefined;
  }

  /** First line of ROLE on a Redis service (master | slave), or what it answered instead. */
  async redisRole(service: string): Promise<string> {
    return (await this.redisCli(service, ['-p', '6379', 'role']))[0] ?? '(no answer)';
  }

  /** The last healthcheck outputs of every container that is not running and healthy. */
  async unhealthyReport(): Promise<string> {
    const lines: string[] = [];
    for (const container of await this.containers()) {
      if (container.status === 'running' && container.health === 'healthy') continue;
      const log = await this.docker(['inspect', '--format', '{{if .State.Health}}{{range .State.Health.Log}}{{.ExitCode}}: {{.Output}}|{{end}}{{end}}', container.id], { allowFailure: true });
      lines.push(`${container.service} ${container.id.slice(0, 12)} ${container.status}/${container.health}: ${log.stdout.trim().slice(-600)}`);
    }
    return lines.join('\n');
  }

  async logs(services: string[], tail = 40): Promise<string> {
    const result = await this.compose(['logs', '--no-color', '--tail', String(tail), ...services], { allowFailure: true, timeoutMs: 60_000 });
    return result.stdout + result.stderr;
  }
}
