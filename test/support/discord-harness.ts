/**
 * The Discord front-end of a bots process against a fake Discord on loopback, on a fresh test app:
 * the real discord.js client, command layer, queues, Postgres and Redis. Like telegramHarness, so
 * a test file sets up only what is particular to it.
 */
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import type { App } from '../../src/app.js';
import type { SignedLinks } from '../../src/bots/core/deliverer.js';
import { createDiscordFrontend, type DiscordFrontend, type DiscordTuning } from '../../src/bots/discord/index.js';
import { configSecrets } from '../../src/config.js';
import type { GpuBackend } from '../../src/gpu/backend.js';
import type { DeliveryObserver } from '../../src/bots/core/job-delivery.js';
import { createLogger } from '../../src/logger.js';
import { startFakeDiscord, type FakeDiscord, type FakeDiscordOptions } from './fake-discord.js';
import { createTestApp, REDIS_URL, type TestApp } from './test-app.js';

/** What a test may add around the front-end before it starts (an HTTP server's signed links, say), and undo at cleanup. */
export interface DiscordHarnessExtras {
  links?: SignedLinks;
  deliveryObserver?: DeliveryObserver;
  close?: () => Promise<void>;
}

export interface DiscordHarnessOptions {
  fake?: FakeDiscordOptions;
  /** Configuration on top of the test app's and the fake's (given the fake, for its users' ids). */
  env?: (fake: FakeDiscord) => Record<string, string>;
  tuning?: Partial<DiscordTuning>;
  extras?: (app: App, redis: Redis) => DiscordHarnessExtras | Promise<DiscordHarnessExtras>;
  /** The GPU worker's backend; the GPU and delivery workers start only when one is given. */
  backend?: GpuBackend;
}

export interface DiscordHarness {
  fake: FakeDiscord;
  t: TestApp;
  frontend: DiscordFrontend;
  redis: Redis;
  extras: DiscordHarnessExtras;
  /** Every line the app and the front-end logged, through the production logger and its redaction, at debug. */
  logs(): string;
  cleanup(): Promise<void>;
}

export async function discordHarness(options: DiscordHarnessOptions = {}): Promise<DiscordHarness> {
  const fake = await startFakeDiscord({ heartbeatIntervalMs: 2_000, ...options.fake });
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  const t = await createTestApp(
    { DISCORD_TOKEN: fake.token, DISCORD_API_BASE: fake.apiBase, ATTACHMENT_HOSTS: fake.cdnHost, ...options.env?.(fake) },
    { logger: (config) => createLogger({ level: 'debug', secrets: configSecrets(config), destination }) },
  );
  const redis = new Redis(REDIS_URL);
  const extras = (await options.extras?.(t.app, redis)) ?? {};
  const frontend = createDiscordFrontend({
    app: t.app,
    config: t.config,
    logger: t.app.logger,
    redis,
    links: extras.links,
    // The fake's CDN is on loopback.
    tuning: { allowPrivateAttachmentAddresses: true, ...options.tuning },
  });
  await frontend.start();
  if (options.backend) {
    t.app.startGpuWorker(options.backend);
    t.app.startDeliveryWorker(new Map([['discord', frontend.deliverer]]), extras.deliveryObserver);
  }
  return {
    fake,
    t,
    frontend,
    redis,
    extras,
    logs: () => lines.join(''),
    async cleanup() {
      await frontend.stop();
      await t.cleanup();
      await extras.close?.();
      await fake.close();
      redis.disconnect();
    },
  };
}
