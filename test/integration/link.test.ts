import { readFile } from 'node:fs/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { normalizeLinkCode, newLinkCode } from '../../src/bots/core/commands/link.command.js';
import type { Request } from '../../src/bots/core/request.js';
import { findAccountByIdentity } from '../../src/db/accounts.repository.js';
import { redeemLinkCode } from '../../src/db/link.repository.js';
import { grantCredits } from '../../src/db/ledger.repository.js';
import { agree, bufferSource, chatRequest, createTestApp, recordingDeliverer, type TestApp } from '../support/test-app.js';

const astronaut = await readFile(new URL('../../samples/astronaut.jpg', import.meta.url));

const as = (platform: 'telegram' | 'discord', id: string) => ({
  platform,
  user: { id },
  conversation: { platform, chatId: `chat-${id}` },
});

describe('/link: one account across platforms', () => {
  let t: TestApp;
  let outbox: ReturnType<typeof recordingDeliverer>;
  const send = (who: ReturnType<typeof as>, command: Request['command'], options: Request['options'] = {}) => t.app.commands.handle(chatRequest({ ...who, command, options }));
  const codeIn = (text: string) => /([A-Z0-9]{4}-[A-Z0-9]{4})/.exec(text)![1]!;
  const accountOf = (platform: string, userId: string) => findAccountByIdentity(t.app.database.db, { platform, userId });

  beforeEach(async () => {
    t = await createTestApp();
    outbox = recordingDeliverer();
    t.app.startGpuWorker();
    t.app.startDeliveryWorker(new Map([['telegram', outbox.deliverer], ['discord', outbox.deliverer]]));
  });
  afterEach(() => t.cleanup());

  it('joins a Telegram and a Discord identity: balances, free allowance and history are shared, the code works once', async () => {
    const tg = as('telegram', 't-1');
    const dc = as('discord', 'd-1');
    await agree(t.app, 't-1', 'telegram');
    await agree(t.app, 'd-1', 'discord');
    // Each spends its free allowance's half today; the Discord side also holds 5 paid credits.
    for (const who of [tg, dc]) {
      const reply = await t.app.commands.handle(chatRequest({ ...who, command: 'portrait', photos: [bufferSource(astronaut)] }));
      expect(reply.job, reply.text).toBeDefined();
      await outbox.finalFor(reply.job!.id);
    }
    await grantCredits(t.app.database.db, (await accountOf('discord', 'd-1'))!.id, 5, 'test');
    const telegramAccount = (await accountOf('telegram', 't-1'))!.id;

    const offer = await send(tg, 'link');
    expect(offer.ephemeral).toBe(true);
    const code = codeIn(offer.text);
    expect(offer.text).toContain('10 minutes');

    // Typed loosely on the other platform: lower case, spaces instead of the dash. Nothing is joined yet:
    // the code's maker must send back the confirmation only the redeemer sees.
    const pending = await send(dc, 'link', { code: code.toLowerCase().replace('-', ' ') });
    expect(pending.ephemeral).toBe(true);
    expect(pending.text).toContain('on Telegram, from the account that made the first code');
    expect((await accountOf('discord', 'd-1'))!.id).not.toBe(telegramAccount);
    const linked = await send(tg, 'link', { code: codeIn(pending.text) });
    expect(linked.tone, linked.text).toBe('success');
    expect(linked.text).toContain('Discord and Telegram');

    expect((await accountOf('discord', 'd-1'))!.id).toBe(telegramAccount);
    // Two 4-credit portraits were paid from two free allowances; merged, the day has one allowance, spent.
    for (const who of [tg, dc]) {
      const credits = await send(who, 'credits');
      expect(credits.text).toContain('Credits: 5 · free today: 0 of 8');
    }
    const history = await send(dc, 'history');
    expect(history.text.match(/portrait \(studio\) — done/g)).toHaveLength(2);

    const again = await send(as('discord', 'd-2'), 'link', { code });
    expect(again.code).toBe('LINK_CODE_INVALID');
  });

  it('refuses a code from the same platform without spending it, and one that expired', async () => {
    const offer = await send(as('telegram', 't-2'), 'link');
    const code = codeIn(offer.text);
    const samePlatform = await send(as('telegram', 't-3'), 'link', { code });
    expect(samePlatform.code).toBe('LINK_SAME_PLATFORM');
    expect(samePlatform.text).toContain('Telegram');
    expect((await accountOf('telegram', 't-3'))!.id).not.toBe((await accountOf('telegram', 't-2'))!.id);

    const fromDiscord = await send(as('discord', 'd-3'), 'link', { code });
    expect(fromDiscord.text).toMatch(/Almost done/);

    const later = codeIn((await send(as('telegram', 't-4'), 'link')).text);
    const stranger = (await accountOf('telegram', 't-3'))!.id;
    const confirmation = { code: 'ABCD-EFGH', expiresAt: new Date(Date.now() + 20 * 60 * 1000) };
    const expired = await redeemLinkCode(t.app.database.db, later, stranger, new Date(Date.now() + 11 * 60 * 1000), confirmation);
    expect(expired).toEqual({ status: 'invalid' });
    expect((await send(as('discord', 'd-4'), 'link', { code: 'NOPE-NOPE' })).code).toBe('LINK_CODE_INVALID');
  });

  it('a ban on either side carries over', async () => {
    const offer = await send(as('discord', 'd-5'), 'link');
    const banned = as('telegram', 't-5');
    await send(banned, 'credits'); // creates the account
    await t.app.database.pool.query(`update accounts set banned_at = now() where id = $1`, [(await accountOf('telegram', 't-5'))!.id]);
    const pending = await send(banned, 'link', { code: codeIn(offer.text) });
    await send(as('discord', 'd-5'), 'link', { code: codeIn(pending.text) });
    await agree(t.app, 'd-5', 'discord');
    const portrait = await t.app.commands.handle(chatRequest({ ...as('discord', 'd-5'), command: 'portrait', photos: [bufferSource(astronaut)] }));
    expect(portrait.code).toBe('BANNED');
  });
});

describe('/link: a code someone else saw is useless (issue 21, point 1)', () => {
  let t: TestApp;
  const send = (who: ReturnType<typeof as>, command: Request['command'], options: Request['options'] = {}) => t.app.commands.handle(chatRequest({ ...who, command, options }));
  const codeIn = (text: string) => /([A-Z0-9]{4}-[A-Z0-9]{4})/.exec(text)![1]!;
  const accountOf = (platform: string, userId: string) => findAccountByIdentity(t.app.database.db, { platform, userId });
  beforeEach(async () => {
    t = await createTestApp();
  });
  afterEach(() => t.cleanup());

  it("an attacker who redeems a victim's code joins nothing; their confirmation code is refused from every account but the victim's", async () => {
    await grantCredits(t.app.database.db, (await t.app.repos.accounts.resolve({ platform: 'telegram', userId: 'victim' })).id, 30, 'test');
    const victimAccount = (await accountOf('telegram', 'victim'))!.id;
    const leaked = codeIn((await send(as('telegram', 'victim'), 'link')).text);

    const attacker = as('discord', 'attacker');
    const pending = await send(attacker, 'link', { code: leaked });
    const confirm = codeIn(pending.text);
    // The attacker cannot finish it: not from Discord, not from a Telegram account of their own.
    expect((await send(attacker, 'link', { code: confirm })).code).toBe('LINK_CODE_INVALID');
    expect((await send(as('telegram', 'attacker-tg'), 'link', { code: confirm })).code).toBe('LINK_CODE_INVALID');
    expect((await accountOf('discord', 'attacker'))!.id).not.toBe(victimAccount);
    expect((await send(attacker, 'credits')).text).toContain('Credits: 0');
    // The offer is spent: the leaked code cannot be tried again either.
    expect((await send(as('discord', 'attacker-2'), 'link', { code: leaked })).code).toBe('LINK_CODE_INVALID');
  });

  it('personal answers are refused in a group, with a pointer to a private chat, before anything is made', async () => {
    const inGroup = { user: { id: 'g-1' }, conversation: { platform: 'telegram', chatId: '-1001', messageId: '5', userId: 'g-1', shared: true } };
    for (const command of ['link', 'credits', 'history', 'forget'] as const) {
      const reply = await t.app.commands.handle(chatRequest({ ...inGroup, command }));
      expect(reply.code, command).toBe('PRIVATE_ONLY');
      expect(reply.text).toMatch(/private chat/);
      expect(reply.text).not.toMatch(/[A-Z0-9]{4}-[A-Z0-9]{4}/);
    }
    const { rows } = await t.app.database.pool.query('select count(*)::int as n from link_codes');
    expect(rows[0].n).toBe(0);
  });
});

describe('link codes', () => {
  it('are 8 unambiguous characters and read back however they are typed', () => {
    const codes = new Set(Array.from({ length: 200 }, newLinkCode));
    expect(codes.size).toBe(200);
    for (const code of codes) {
      expect(code).toMatch(/^[A-HJKMNP-Z2-9]{4}-[A-HJKMNP-Z2-9]{4}$/);
      expect(normalizeLinkCode(` ${code.toLowerCase().replace('-', '')} `)).toBe(code);
    }
    expect(normalizeLinkCode('ABCD-EFG0')).toBeUndefined(); // 0 is not in the alphabet
    expect(normalizeLinkCode('ABC')).toBeUndefined();
  });
});
