// A throwaway Redis Cluster of redis-server processes on loopback ports from the OS, for the
// benchmark (bench/cluster.ts) and the tests (test/helpers/redis-cluster.ts): one implementation.
// Each node has its own data and cluster bus port (`--cluster-port`, Redis >= 7.0: port + 10000 may
// be taken or past 65535), its nodes.conf in one temporary directory, no persistence, a 1 s node
// timeout (failover in about 2 s) and diskless replication with no delay (a replica syncs at once).
import { Redis } from 'ioredis';
import { freePort, isRunning, type Child, type ChildProcesses } from './child-processes.ts';
import { waitForRedis } from './redis-process.ts';

export const CLUSTER_SLOTS = 16384;

export interface RedisClusterOptions {
  /** Masters; the 16384 slots are split evenly between them. Default 3. */
  masters?: number | undefined;
  /** Replicas of each master. Default 1. */
  replicasPerMaster?: number | undefined;
  /** `cluster-node-timeout` in ms: how long a node may be silent before it is failed over. Default 1000. */
  nodeTimeoutMs?: number | undefined;
  /**
   * `cluster-require-full-coverage`. Redis' default (true): while any slot has no master, every node
   * refuses commands (CLUSTERDOWN). False: the other shards keep serving. Default true.
   */
  requireFullCoverage?: boolean | undefined;
}

export interface RedisClusterNode {
  readonly host: string;
  readonly port: number;
  /** Port of the cluster bus (node-to-node gossip). */
  readonly busPort: number;
  /** Process id of the current redis-server (a restart changes it); undefined once killed. */
  readonly pid: number | undefined;
  /** The role the node had when the topology was last read (waitForClusterOk, masterForSlot...). */
  readonly role: 'master' | 'replica';
  readonly state: 'running' | 'paused' | 'killed';
  /** `host:port`, as a seed or NAT map entry. */
  readonly address: string;
}

export interface RedisCluster {
  /** Every node ever started, killed ones included, in start order. */
  readonly nodes: readonly RedisClusterNode[];
  /** `127.0.0.1:port` of every node, for a cluster client's seed list. */
  readonly seeds: readonly string[];
  /** The master serving `slot` now, as CLUSTER SLOTS of an answering node says. */
  masterForSlot(slot: number): Promise<RedisClusterNode>;
  /** The master serving `key`'s slot now (CLUSTER KEYSLOT, so hash tags count as Redis counts them). */
  masterForKey(key: string): Promise<RedisClusterNode>;
  /** kill -9; resolves once the process is gone. */
  kill(node: RedisClusterNode): Promise<void>;
  /** SIGSTOP (true) or SIGCONT (false): the node keeps its sockets but answers nothing. */
  pause(node: RedisClusterNode, paused: boolean): void;
  /** Starts a killed node again on its ports with its nodes.conf: it rejoins (a failed-over master as a replica). */
  restart(node: RedisClusterNode): Promise<void>;
  /**
   * Polls until every running node says cluster_state:ok, every node's CLUSTER SLOTS covers all
   * 16384 slots with masters that answer and say role:master, and every running replica's link to
   * its master is up. Throws after `timeoutMs` with the last problem seen.
   */
  waitForClusterOk(timeoutMs?: number): Promise<void>;
  /**
   * After kill() or pause() of a master: polls until another node serves its slots and the cluster
   * is ok again (as waitForClusterOk); resolves with the node that took over.
   */
  waitForFailover(master: RedisClusterNode, timeoutMs?: number): Promise<RedisClusterNode>;
  /** Kills every node and removes the temporary directory. Idempotent. */
  stop(): Promise<void>;
}

const HOST = '127.0.0.1';
const DEFAULT_WAIT_MS = 30_000;
const POLL_MS = 100;

class NodeProcess implements RedisClusterNode {
  readonly host = HOST;
  readonly port: number;
  readonly busPort: number;
  role: 'master' | 'replica' = 'master';
  paused = false;
  child: Child | undefined;

  constructor(port: number, busPort: number) {
    this.port = port;
    this.busPort = busPort;
  }

  get address(): string {
    return `${this.host}:${this.port}`;
  }

  get running(): boolean {
    return this.child !== undefined && isRunning(this.child);
  }

  get pid(): number | undefined {
    return this.running ? this.child!.process.pid : undefined;
  }

  get state(): 'running' | 'paused' | 'killed' {
    return !this.running ? 'killed' : this.paused ? 'paused' : 'running';
  }
}

/** One short-lived connection to `node`, closed after `use`; every command has a deadline. */
async function withNode<T>(node: RedisClusterNode, use: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis({ host: node.host, port: node.port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1000, commandTimeout: 2000 });
  redis.on('error', () => {});
  try {
    await redis.connect();
    return await use(redis);
  } finally {
    redis.disconnect();
  }
}

type SlotRange = { from: number; to: number; masterPort: number };

async function readSlots(redis: Redis): Promise<SlotRange[]> {
  const reply = (await redis.call('CLUSTER', 'SLOTS')) as [number, number, [string, number, ...unknown[]], ...unknown[]][];
  return reply.map(([from, to, master]) => ({ from, to, masterPort: Number(master[1]) }));
}

/** What one answering node says about itself and the slots. */
interface NodeView {
  node: NodeProcess;
  role: 'master' | 'replica';
  linkUp: boolean;
  clusterOk: boolean;
  slots: SlotRange[];
}

class ProcessRedisCluster implements RedisCluster {
  readonly #children: ChildProcesses;
  readonly #dir: string;
  readonly #nodeTimeoutMs: number;
  readonly #nodes: NodeProcess[] = [];
  #stopped = false;

  readonly #requireFullCoverage: boolean;

  constructor(children: ChildProcesses, dir: string, nodeTimeoutMs: number, requireFullCoverage: boolean) {
    this.#requireFullCoverage = requireFullCoverage;
    this.#children = children;
    this.#dir = dir;
    this.#nodeTimeoutMs = nodeTimeoutMs;
  }

  get nodes(): readonly RedisClusterNode[] {
    return this.#nodes;
  }

  get seeds(): readonly string[] {
    return this.#nodes.map((node) => node.address);
  }

  /** Starts `count` nodes, each on two ports asked one after the other (so no two are the same). */
  async addNodes(count: number): Promise<void> {
    const taken = new Set<number>();
    const port = async (): Promise<number> => {
      for (;;) {
        const p = await freePort();
        if (!taken.has(p)) return taken.add(p), p;
      }
    };
    const added = await Promise.all(Array.from({ length: count }, () => this.#startNode(port)));
    this.#nodes.push(...added);
  }

  /**
   * Starts one node on two fresh ports. A port is free when picked but another process may bind it
   * before redis-server does (other test files start servers at the same time): a node that does
   * not come up as ours gets new ports, up to three tries.
   */
  async #startNode(port: () => Promise<number>): Promise<NodeProcess> {
    for (let attempt = 1; ; attempt++) {
      const node = new NodeProcess(await port(), await port());
      try {
        await this.#spawn(node);
        return node;
      } catch (error) {
        if (attempt === 3) throw error;
        if (node.running) node.child!.process.kill('SIGKILL');
      }
    }
  }

  async #spawn(node: NodeProcess): Promise<void> {
    const args = [
      '--port', String(node.port), '--bind', HOST, '--cluster-enabled', 'yes', '--cluster-port', String(node.busPort),
      '--cluster-config-file', `${this.#dir}/nodes-${node.port}.conf`, '--cluster-node-timeout', String(this.#nodeTimeoutMs),
      '--repl-diskless-sync', 'yes', '--repl-diskless-sync-delay', '0', '--save', '', '--appendonly', 'no',
      '--dir', this.#dir, '--loglevel', 'warning', '--daemonize', 'no',
      '--cluster-require-full-coverage', this.#requireFullCoverage ? 'yes' : 'no',
    ];
    const child = this.#children.start({ name: `redis-server:${node.port} (cluster)`, command: 'redis-server', args });
    node.child = child;
    node.paused = false;
    await waitForRedis(`redis://${node.address}`, child, false, 30_000);
    // A restart reuses a port that was free when picked: make sure the answer comes from our process.
    const pid = await withNode(node, async (redis) => /process_id:(\d+)/.exec(await redis.info('server'))?.[1]);
    if (Number(pid) !== child.process.pid) throw new Error(`port ${node.port} is held by another redis-server (pid ${pid}), not ours (pid ${child.process.pid})`);
  }

  async create(replicasPerMaster: number): Promise<void> {
    const cli = this.#children.start({
      name: 'redis-cli --cluster create',
      command: 'redis-cli',
      args: ['--cluster', 'create', ...this.seeds, '--cluster-replicas', String(replicasPerMaster), '--cluster-yes'],
    });
    const code = await cli.exited;
    if (code !== 0) throw new Error(`redis-cli --cluster create exited with ${code}:\n${cli.tail()}`);
  }

  #node(handle: RedisClusterNode): NodeProcess {
    const node = this.#nodes.find((n) => n === handle || n.port === handle.port);
    if (!node) throw new Error(`${handle.address} is not a node of this cluster`);
    return node;
  }

  async #views(): Promise<{ views: NodeView[]; silent: NodeProcess[] }> {
    const live = this.#nodes.filter((node) => node.state === 'running');
    const silent: NodeProcess[] = [];
    const views: NodeView[] = [];
    await Promise.all(live.map(async (node) => {
      try {
        views.push(await withNode(node, async (redis) => {
          const replication = await redis.info('replication');
          const info = (await redis.call('CLUSTER', 'INFO')) as string;
          const role = /role:master/.test(replication) ? 'master' as const : 'replica' as const;
          node.role = role;
          return { node, role, linkUp: role === 'master' || /master_link_status:up/.test(replication), clusterOk: /cluster_state:ok/.test(info), slots: await readSlots(redis) };
        }));
      } catch {
        silent.push(node);
      }
    }));
    return { views, silent };
  }

  /** Undefined when the cluster is ok (see waitForClusterOk), else what is wrong. */
  async #problem(): Promise<string | undefined> {
    const { views, silent } = await this.#views();
    if (silent.length > 0) return `${silent.map((n) => n.address).join(', ')} did not answer`;
    if (views.length === 0) return 'no node is running';
    const masters = new Set(views.filter((v) => v.role === 'master').map((v) => v.node.port));
    for (const view of views) {
      const at = view.node.address;
      if (!view.clusterOk) return `${at}: cluster_state is not ok`;
      if (!view.linkUp) return `${at}: replica link to its master is down`;
      let covered = 0;
      for (const range of view.slots) {
        if (!masters.has(range.masterPort)) return `${at}: slots ${range.from}-${range.to} are on ${range.masterPort}, not an answering master`;
        covered += range.to - range.from + 1;
      }
      if (covered !== CLUSTER_SLOTS) return `${at}: ${covered} of ${CLUSTER_SLOTS} slots covered`;
    }
    return undefined;
  }

  async waitForClusterOk(timeoutMs = DEFAULT_WAIT_MS): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const problem = await this.#problem();
      if (problem === undefined) return;
      if (Date.now() > deadline) throw new Error(`Redis Cluster not ok within ${timeoutMs} ms: ${problem}`);
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  }

  async waitForFailover(master: RedisClusterNode, timeoutMs = DEFAULT_WAIT_MS): Promise<RedisClusterNode> {
    const old = this.#node(master);
    if (old.state === 'running') throw new Error(`waitForFailover: ${old.address} is still running; kill() or pause() it first`);
    // Its slots, as a node that answers still remembers them.
    const ranges = (await this.#anyAnswering(readSlots)).filter((r) => r.masterPort === old.port);
    const slot = ranges[0]?.from;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const problem = await this.#problem();
      if (problem === undefined) {
        // With no remembered range (already failed over before this call), any slot it no longer has will do.
        const taker = slot === undefined ? undefined : await this.masterForSlot(slot);
        if (taker === undefined || taker.port !== old.port) return taker ?? this.#nodes.find((n) => n.role === 'master' && n.state === 'running')!;
      }
      if (Date.now() > deadline) throw new Error(`no failover of ${old.address} within ${timeoutMs} ms: ${problem ?? 'its slots did not move'}`);
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  }

  async #anyAnswering<T>(use: (redis: Redis) => Promise<T>): Promise<T> {
    let last: unknown = new Error('no node is running');
    for (const node of this.#nodes.filter((n) => n.state === 'running')) {
      try {
        return await withNode(node, use);
      } catch (error) {
        last = error;
      }
    }
    throw last;
  }

  async masterForSlot(slot: number): Promise<RedisClusterNode> {
    const ranges = await this.#anyAnswering(readSlots);
    const range = ranges.find((r) => r.from <= slot && slot <= r.to);
    const node = range && this.#nodes.find((n) => n.port === range.masterPort);
    if (!node) throw new Error(`slot ${slot} is not served by any node of this cluster`);
    return node;
  }

  async masterForKey(key: string): Promise<RedisClusterNode> {
    return this.masterForSlot(Number(await this.#anyAnswering((redis) => redis.call('CLUSTER', 'KEYSLOT', key))));
  }

  async kill(handle: RedisClusterNode): Promise<void> {
    const node = this.#node(handle);
    const child = node.child;
    if (!child || !isRunning(child)) return;
    child.process.kill('SIGKILL');
    await child.exited;
    node.paused = false;
  }

  pause(handle: RedisClusterNode, paused: boolean): void {
    const node = this.#node(handle);
    if (!node.running) throw new Error(`${node.address} is not running`);
    node.child!.process.kill(paused ? 'SIGSTOP' : 'SIGCONT');
    node.paused = paused;
  }

  async restart(handle: RedisClusterNode): Promise<void> {
    if (this.#stopped) throw new Error('the cluster was stopped');
    const node = this.#node(handle);
    await this.kill(node);
    await this.#spawn(node);
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    await Promise.all(this.#nodes.map(async (node) => {
      if (node.running && node.paused) node.child!.process.kill('SIGCONT');
      if (node.child) await this.#children.stop(node.child, 500);
    }));
    this.#children.removeTempDir(this.#dir);
  }
}

/**
 * Starts `masters × (1 + replicasPerMaster)` redis-server processes, joins them with
 * `redis-cli --cluster create` and waits until the cluster is ok. Every process goes through
 * `children`, so stopping those stops the cluster too.
 */
export async function startRedisCluster(children: ChildProcesses, options: RedisClusterOptions = {}): Promise<RedisCluster> {
  const masters = options.masters ?? 3;
  const replicas = options.replicasPerMaster ?? 1;
  // redis-cli refuses fewer than 3 masters: a cluster needs a majority of masters to fail one over.
  if (!Number.isInteger(masters) || masters < 3) throw new Error(`a Redis Cluster needs at least 3 masters, got ${masters}`);
  const cluster = new ProcessRedisCluster(children, children.makeTempDir('stickless-redis-cluster-'), options.nodeTimeoutMs ?? 1000, options.requireFullCoverage ?? true);
  try {
    await cluster.addNodes(masters * (1 + replicas));
    await cluster.create(replicas);
    await cluster.waitForClusterOk();
  } catch (error) {
    await cluster.stop();
    throw error;
  }
  return cluster;
}
