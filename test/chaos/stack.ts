/**
 * The real Likeness processes (`likeness serve`, `likeness worker`, `likeness all`) as children of
 * the runner, each logging to its own file, with the controls a scenario needs: wait until
 * started, SIGTERM and wait, SIGKILL, start again.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { guarded } from './infra.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const STARTED = '"likeness started"';

export type Role = 'serve' | 'worker' | 'all';

/** One Likeness process; `start` may be called again after it exited (a restart). */
export interface StackProcess {
  readonly name: string;
  readonly role: Role;
  readonly pid: number | undefined;
  readonly alive: boolean;
  /** How many times it was started. */
  readonly starts: number;
  readonly logFile: string;
  /** Starts it and resolves once it logged "likeness started" (at LOG_LEVEL info or finer); rejects after `timeoutMs`. */
  start(timeoutMs?: number): Promise<void>;
  /** SIGTERM, then waits for the exit; resolves with the exit code. */
  terminate(timeoutMs?: number): Promise<number | null>;
  /** SIGKILL, then waits for the exit. */
  kill(): Promise<void>;
  /** The last `chars` characters it wrote (stdout and stderr). */
  tail(chars?: number): string;
}

export function stackProcess(name: string, role: Role, env: Record<string, string>, logDir: string): StackProcess {
  let child: ChildProcess | undefined;
  let starts = 0;
  let recent = '';
  const logFile = join(logDir, `${name}.log`);
  let log: WriteStream | undefined;
  const isAlive = () => child !== undefined && child.exitCode === null && child.signalCode === null;

  const proc: StackProcess = {
    name,
    role,
    get pid() {
      return isAlive() ? child!.pid : undefined;
    },
    get alive() {
      return isAlive();
    },
    get starts() {
      return starts;
    },
    logFile,
    async start(timeoutMs = 60_000) {
      if (isAlive()) throw new Error(`${name} is already running`);
      starts += 1;
      log ??= createWriteStream(logFile, { flags: 'a' });
      log.write(`\n===== start ${starts} at ${new Date().toISOString()} =====\n`);
      const [command, args] = guarded(process.execPath, ['--import', 'tsx', 'src/cli.ts', role]);
      const current = spawn(command, args, {
        cwd: ROOT,
        env: { ...process.env, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child = current;
      let seen = '';
      const started = new Promise<void>((resolve, reject) => {
        const onData = (chunk: Buffer) => {
          const text = chunk.toString();
          log?.write(text);
          recent = (recent + text).slice(-20_000);
          if (seen !== 'yes') {
            seen += text;
            if (seen.includes(STARTED)) {
              seen = 'yes';
              resolve();
            } else seen = seen.slice(-200);
          }
        };
        current.stdout!.on('data', onData);
        current.stderr!.on('data', onData);
        current.once('exit', (code, signal) => reject(new Error(`${name} exited before it started (${signal ?? code}):\n${recent.slice(-2_000)}`)));
      });
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${name} did not log "likeness started" within ${timeoutMs} ms:\n${recent.slice(-2_000)}`)), timeoutMs);
      });
      try {
        await Promise.race([started, late]);
      } finally {
        clearTimeout(timer);
      }
    },
    async terminate(timeoutMs = 60_000) {
      if (!isAlive()) return child?.exitCode ?? null;
      const current = child!;
      current.kill('SIGTERM');
      const timer = setTimeout(() => current.kill('SIGKILL'), timeoutMs);
      const [code] = (await once(current, 'exit')) as [number | null];
      clearTimeout(timer);
      return code;
    },
    async kill() {
      if (!isAlive()) return;
      const current = child!;
      current.kill('SIGKILL');
      await once(current, 'exit');
    },
    tail(chars = 4_000) {
      return recent.slice(-chars);
    },
  };
  return proc;
}

/** Stops whatever still runs, hard: the end of a scenario, or the runner giving up. */
export async function killAll(processes: readonly StackProcess[]): Promise<void> {
  await Promise.all(processes.map((p) => p.kill()));
}
