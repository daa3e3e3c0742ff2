/**
 * The Node.js client program: `node -r ts-node/register/transpile-only client.ts API` with the
 * endpoint and the workload in the environment (DB_HOST, DB_PORT, DB_USER, DB_PASSWORD, DB_NAME,
 * WORKLOAD_CLIENTS, WORKLOAD_STATEMENTS, WORKLOAD_ITEMS, WORKLOAD_TAG); prints one JSON line.
 */
import { NodeApi, runWorkload } from './workload';

function env(name: string): string {
  const v = process.env[name];
  if (v === undefined) throw new Error(`${name} is not set`);
  return v;
}

async function main(): Promise<void> {
  const api = process.argv[2] as NodeApi;
  if (!['query', 'execute', 'knex', 'sequelize'].includes(api)) throw new Error(`unknown API ${api}`);
  const result = await runWorkload(api, {
    endpoints: [{ host: env('DB_HOST'), port: Number(env('DB_PORT')), user: env('DB_USER'), password: env('DB_PASSWORD'), database: env('DB_NAME') }],
    clients: Number(env('WORKLOAD_CLIENTS')),
    statements: Number(env('WORKLOAD_STATEMENTS')),
    items: Number(env('WORKLOAD_ITEMS')),
    tag: env('WORKLOAD_TAG'),
  });
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().then(() => process.exit(0), (e) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
