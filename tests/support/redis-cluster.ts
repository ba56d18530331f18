import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Cluster } from 'ioredis';

import { redisCli, startRedisServer, waitFor, type RedisServer } from './redis-server.ts';

export interface TestRedisCluster {
  cluster: Cluster;
  ports: number[];
  /** Disconnects the client, stops every node and deletes their folder. */
  stop(): Promise<void>;
}

/** A real three-master Redis Cluster (no replicas) of child `redis-server` processes on loopback. */
export async function startRedisCluster(): Promise<TestRedisCluster> {
  const dir = mkdtempSync(path.join(tmpdir(), 'idp-redis-cluster-'));
  const nodes: RedisServer[] = [];
  let cluster: Cluster | undefined;
  const stop = async () => {
    cluster?.disconnect();
    await Promise.all(nodes.map((node) => node.stop()));
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    for (let i = 0; i < 3; i += 1) {
      nodes.push(
        await startRedisServer(dir, ['--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${i}.conf`, '--dbfilename', `dump-${i}.rdb`]),
      );
    }
    const ports = nodes.map((node) => node.port);
    await redisCli(ports[0]!, '--cluster', 'create', ...ports.map((port) => `127.0.0.1:${port}`), '--cluster-replicas', '0', '--cluster-yes');
    for (const port of ports) {
      await waitFor(`cluster_state:ok on port ${port}`, async () => (await redisCli(port, 'cluster', 'info')).includes('cluster_state:ok'));
    }

    cluster = new Cluster(ports.map((port) => ({ host: '127.0.0.1', port })));
    await new Promise<void>((resolve, reject) => {
      cluster!.once('ready', resolve);
      cluster!.once('error', reject);
    });
    return { cluster, ports, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
