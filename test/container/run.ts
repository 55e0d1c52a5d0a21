/**
 * `npm run test:container`: the Docker image, proven as an operator uses it.
 *
 *  1. builds the image (tag likeness:local) from node:20-bookworm-slim, or, only when that cannot
 *     be pulled, from a local stand-in made by test/container/make-node-base-image.sh;
 *  2. runs the CLI portrait from the bundled sample photo and finds 4 portraits in the volume;
 *  3. runs `likeness all` until /readyz answers 200, and a `likeness worker` container beside it
 *     (its own OPS_PORT) against the same Postgres and Redis until its /readyz answers 200;
 *  4. sends both SIGTERM (`docker stop`) and checks they stop cleanly: exit code 0, "stopped" logged;
 *  5. prints the image's size against the 450 MB target;
 *  6. validates docker-compose.yml with `docker compose config` where Compose v2 is installed (it
 *     is not in Debian's packages; test/unit/compose-file.test.ts checks the file's content anyway).
 *
 * Every container uses host networking and reaches Postgres and Redis on 127.0.0.1 (DATABASE_URL,
 * REDIS_URL as for the tests; a fresh database and queue prefix per run). Without a usable
 * `docker`, it says so and exits 0: the check is skipped, not failed.
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readdir, rm } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TAG = 'likeness:local';
const REAL_BASE = 'node:20-bookworm-slim';
const STAND_IN_BASE = 'likeness-test/node:20-bookworm-slim';
const SIZE_TARGET_MB = 450;
const DATABASE_ROOT = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const exec = promisify(execFile);

const log = (line: string) => process.stdout.write(`test:container: ${line}\n`);

async function docker(args: string[], timeoutMs = 120_000): Promise<string> {
  const { stdout } = await exec('docker', args, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
  return stdout.trim();
}

/** Runs docker with its output shown (builds), rejecting on a non-zero exit. */
function dockerShown(args: string[], command = 'docker'): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${command} ${args.slice(0, 2).join(' ')} exited with ${code}`))));
  });
}

async function dockerUsable(): Promise<string | undefined> {
  try {
    await docker(['info', '--format', '{{.ServerVersion}}'], 15_000);
    return undefined;
  } catch (error) {
    const message = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'docker is not installed' : 'the docker daemon does not answer';
    return message;
  }
}

/** The base image to build on: the real one when it can be pulled, else the stand-in (made once). */
async function baseImage(): Promise<string> {
  try {
    await docker(['pull', '-q', REAL_BASE], 120_000);
    return REAL_BASE;
  } catch {
    log(`${REAL_BASE} cannot be pulled: building on the stand-in ${STAND_IN_BASE}`);
  }
  try {
    await docker(['image', 'inspect', STAND_IN_BASE]);
  } catch {
    await dockerShown([join(ROOT, 'test/container/make-node-base-image.sh'), STAND_IN_BASE], 'bash');
  }
  return STAND_IN_BASE;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function waitReady(port: number, container: string, timeoutMs = 180_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const response = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(5_000) });
      if (response.status === 200) return;
      last = `${response.status} ${await response.text()}`;
    } catch (error) {
      last = String(error);
    }
    const state = await docker(['inspect', '-f', '{{.State.Status}}', container]);
    if (state !== 'running') throw new Error(`${container} is ${state} before /readyz answered 200:\n${await docker(['logs', container]).catch(() => '')}`);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
  throw new Error(`${container}: /readyz did not answer 200 within ${timeoutMs / 1000} s (last: ${last})`);
}

/** SIGTERM through `docker stop`, then the exit code and the logs. */
async function stopCleanly(container: string): Promise<void> {
  await docker(['stop', '--time', '60', container], 90_000);
  const code = await docker(['inspect', '-f', '{{.State.ExitCode}}', container]);
  const { stdout, stderr } = await exec('docker', ['logs', container], { maxBuffer: 64 * 1024 * 1024 });
  if (code !== '0' || !stdout.includes('"msg":"stopped"')) throw new Error(`${container} did not stop cleanly (exit ${code}):\n${stdout}\n${stderr}`);
  log(`${container}: stopped cleanly on SIGTERM (exit 0)`);
}

async function checkComposeFile(): Promise<void> {
  try {
    await docker(['compose', 'version'], 15_000);
  } catch {
    log('docker compose (v2) is not installed: docker-compose.yml not validated by Compose here (test/unit/compose-file.test.ts reads it as YAML)');
    return;
  }
  await exec('docker', ['compose', '-f', join(ROOT, 'docker-compose.yml'), 'config', '--quiet'], { cwd: ROOT, timeout: 30_000 });
  log('docker compose config: docker-compose.yml is valid');
}

async function main(): Promise<number> {
  const unusable = await dockerUsable();
  if (unusable) {
    log(`SKIPPED: ${unusable}. Install Docker (Debian: apt-get install docker.io, then start dockerd) to run this check.`);
    return 0;
  }
  const started = Date.now();
  const base = await baseImage();
  await dockerShown(['build', '--network', 'host', '--build-arg', `NODE_IMAGE=${base}`, '-t', TAG, '.']);
  log(`built ${TAG} on ${base} in ${Math.round((Date.now() - started) / 1000)} s`);

  const run = randomBytes(4).toString('hex');
  const database = `likeness_container_${run}`;
  const databaseUrl = new URL(DATABASE_ROOT);
  databaseUrl.pathname = `/${database}`;
  const env = ['-e', `DATABASE_URL=${databaseUrl.href}`, '-e', `REDIS_URL=${REDIS_URL}`, '-e', `QUEUE_PREFIX=container-${run}`, '-e', 'LOG_LEVEL=info'];
  const dataDir = await mkdtemp(join(tmpdir(), 'likeness-container-'));
  await chmod(dataDir, 0o777); // the image runs as `node` (uid 1000)
  const volume = ['-v', `${dataDir}:/data`];
  const containers = [`likeness-all-${run}`, `likeness-worker-${run}`];
  try {
    // The CLI front-end, with its own in-process worker, on the bundled sample.
    const portrait = await docker(['run', '--rm', '--network', 'host', ...env, ...volume, TAG, 'portrait', 'samples/astronaut.jpg', '--style', 'studio', '--out', '/data/out'], 300_000);
    const written = (await readdir(join(dataDir, 'out'))).filter((name) => name.endsWith('.jpg'));
    if (written.length < 4) throw new Error(`the CLI portrait wrote ${written.length} JPEGs, not 4:\n${portrait}`);
    log(`CLI portrait from samples/astronaut.jpg: ${written.length} files (${written.join(', ')})`);

    // /readyz is on each process's operations listener (OPS_PORT, 127.0.0.1); `all` also holds the
    // public listener (HTTP_PORT) and, as the image runs with NODE_ENV=production, needs LINK_SECRET.
    const [allPort, allOps, workerOps] = [await freePort(), await freePort(), await freePort()];
    const linkSecret = randomBytes(32).toString('base64url');
    await docker(['run', '-d', '--name', containers[0]!, '--network', 'host', ...env, '-e', `HTTP_PORT=${allPort}`, '-e', `OPS_PORT=${allOps}`, '-e', `LINK_SECRET=${linkSecret}`, ...volume, TAG, 'all']);
    await waitReady(allOps, containers[0]!);
    log(`likeness all: /readyz 200 on 127.0.0.1:${allOps} (public listener on ${allPort})`);
    await docker(['run', '-d', '--name', containers[1]!, '--network', 'host', ...env, '-e', `OPS_PORT=${workerOps}`, ...volume, TAG, 'worker']);
    await waitReady(workerOps, containers[1]!);
    log(`likeness worker beside it (same Postgres and Redis): /readyz 200 on 127.0.0.1:${workerOps}`);
    await stopCleanly(containers[1]!);
    await stopCleanly(containers[0]!);

    const bytes = Number(await docker(['image', 'inspect', '-f', '{{.Size}}', TAG]));
    const baseBytes = Number(await docker(['image', 'inspect', '-f', '{{.Size}}', base]));
    const mb = (n: number) => Math.round(n / 1e6);
    log(`image ${TAG}: ${mb(bytes)} MB (base ${base}: ${mb(baseBytes)} MB, Likeness's layers: ${mb(bytes - baseBytes)} MB); target <= ${SIZE_TARGET_MB} MB: ${mb(bytes) <= SIZE_TARGET_MB ? 'met' : 'MISSED'}`);
    await checkComposeFile();
    log(`PASSED in ${Math.round((Date.now() - started) / 1000)} s`);
    return 0;
  } finally {
    for (const name of containers) await docker(['rm', '-f', name]).catch(() => undefined);
    await exec('docker', ['run', '--rm', '-v', `${dataDir}:/data`, '--entrypoint', 'rm', TAG, '-rf', '/data/out', '/data/artifacts']).catch(() => undefined);
    await rm(dataDir, { recursive: true, force: true }).catch(() => undefined);
    const adminUrl = new URL(DATABASE_ROOT);
    adminUrl.pathname = '/postgres';
    const admin = new pg.Client({ connectionString: adminUrl.href });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`).finally(() => admin.end());
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`test:container: FAILED: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
