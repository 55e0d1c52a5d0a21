import { pino } from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { GrammyError } from 'grammy';
import type { Api } from 'grammy';
import { parseAdminArgs } from '../../src/bots/core/commands/admin.command.js';
import { createAlbumGatherer } from '../../src/bots/telegram/album-gatherer.js';
import { telegramPhotoSource } from '../../src/bots/telegram/telegram-files.js';
import type { AlbumPart } from '../../src/bots/telegram/telegram-state.js';
import { createMemoryTelegramState } from '../support/memory-chat-states.js';
import { isChatGone } from '../../src/bots/telegram/telegram-chat.js';
import { secretMatches } from '../../src/bots/telegram/telegram-webhook.js';
import {
  decodeButton,
  encodeButton,
  fileRefOf,
  inlineKeyboardOf,
  isForBot,
  parseCommand,
  reactionIntent,
} from '../../src/bots/telegram/update-translation.js';
import { portraitOptionsFromArgs, restoreOptionsFromArgs } from '../../src/bots/core/text-options.js';

const STYLES = new Set(['studio', 'noir', 'watercolour', 'memorial']);
const isStyle = (id: string) => STYLES.has(id);
const emoji = (...list: string[]) => list.map((e) => ({ type: 'emoji' as const, emoji: e as '❤' }));
const silent = pino({ level: 'silent' });

describe('commands in text and captions', () => {
  it('reads the command, the bot it names and its arguments', () => {
    expect(parseCommand('/portrait noir at the beach')).toEqual({ name: 'portrait', mention: undefined, args: 'noir at the beach' });
    expect(parseCommand('/Portrait@Likeness_Bot\nwatercolour')).toEqual({ name: 'portrait', mention: 'Likeness_Bot', args: 'watercolour' });
    expect(parseCommand('  /help  ')).toEqual({ name: 'help', mention: undefined, args: '' });
    expect(parseCommand('a photo of me /portrait')).toBeUndefined();
    expect(parseCommand(undefined)).toBeUndefined();
  });
  it('answers commands for every bot or for this one, not those naming another bot', () => {
    expect(isForBot(parseCommand('/portrait')!, 'likeness_bot')).toBe(true);
    expect(isForBot(parseCommand('/portrait@LIKENESS_BOT')!, 'likeness_bot')).toBe(true);
    expect(isForBot(parseCommand('/portrait@other_bot')!, 'likeness_bot')).toBe(false);
  });
  it('takes a subject, a style and a seed from the front of /portrait, the rest is the prompt', () => {
    expect(portraitOptionsFromArgs('memorial watercolour seed:42 in a  garden', isStyle)).toEqual({ subject: 'memorial', style: 'watercolour', seed: '42', prompt: 'in a garden' });
    expect(portraitOptionsFromArgs('NOIR', isStyle)).toEqual({ style: 'noir' });
    expect(portraitOptionsFromArgs('smiling at dusk, noir', isStyle)).toEqual({ prompt: 'smiling at dusk, noir' });
    expect(portraitOptionsFromArgs('', isStyle)).toEqual({});
  });
  it('asks /restore for colour in any spelling', () => {
    for (const args of ['colorize', 'colourise', 'please color it']) expect(restoreOptionsFromArgs(args)).toEqual({ colorize: true });
    expect(restoreOptionsFromArgs('')).toEqual({ colorize: false });
  });
  it('reads /admin words', () => {
    expect(parseAdminArgs('grant telegram:42 10', 'telegram')).toEqual({ action: 'grant', user: { platform: 'telegram', userId: '42' }, amount: 10 });
    expect(parseAdminArgs('grant 42 -3', 'telegram')).toEqual({ action: 'grant', user: { platform: 'telegram', userId: '42' }, amount: -3 });
    expect(parseAdminArgs('ban discord:7 spam and abuse', 'telegram')).toEqual({ action: 'ban', user: { platform: 'discord', userId: '7' }, reason: 'spam and abuse' });
    expect(parseAdminArgs('stats', 'telegram')).toEqual({ action: 'stats', days: 7 });
    for (const bad of ['', 'grant 42', 'grant 42 lots', 'unban', 'launch']) expect(parseAdminArgs(bad, 'telegram')).toBeUndefined();
  });
});

describe('photos, reactions and buttons', () => {
  it('takes the largest size of a photo, or the file of a document', () => {
    const photo = [
      { file_id: 'small', file_unique_id: 's', width: 90, height: 120, file_size: 1_000 },
      { file_id: 'large', file_unique_id: 'l', width: 960, height: 1280, file_size: 90_000 },
      { file_id: 'medium', file_unique_id: 'm', width: 480, height: 640, file_size: 30_000 },
    ];
    expect(fileRefOf({ photo })).toEqual({ fileId: 'large', size: 90_000, kind: 'photo' });
    expect(fileRefOf({ document: { file_id: 'doc', file_unique_id: 'd', file_name: 'me.heic', file_size: 5 } })).toEqual({ fileId: 'doc', size: 5, kind: 'document', fileName: 'me.heic' });
    expect(fileRefOf({})).toBeUndefined();
  });
  it('reads a newly added reaction only', () => {
    expect(reactionIntent([], emoji('❤'))).toEqual({ kind: 'upscale' });
    expect(reactionIntent([], emoji('❤️'))).toEqual({ kind: 'upscale' }); // with the variation selector some clients add
    for (const e of ['🔥', '👍', '🏆']) expect(reactionIntent([], emoji(e))).toEqual({ kind: 'upscale' });
    expect(reactionIntent(emoji('❤'), emoji('❤', '👎'))).toEqual({ kind: 'notthem' });
    expect(reactionIntent(emoji('❤'), emoji('❤'))).toBeUndefined();
    expect(reactionIntent(emoji('👎'), [])).toBeUndefined();
    expect(reactionIntent([], emoji('🤡'))).toBeUndefined();
    expect(reactionIntent([], [{ type: 'custom_emoji', custom_emoji_id: '1' }])).toBeUndefined();
  });
  it('fits a command, a uuid and an owner in 64 bytes of callback data, and reads them back', () => {
    const target = '3b241101-e2bb-4255-8caf-4136c566a962';
    const data = encodeButton({ command: 'notthem', target }, '12345678901');
    expect(Buffer.byteLength(data)).toBeLessThanOrEqual(64);
    expect(decodeButton(data)).toEqual({ command: 'notthem', target, owner: '12345678901' });
    expect(decodeButton(encodeButton({ command: 'consent' }))).toEqual({ command: 'consent', target: undefined, owner: undefined });
    expect(decodeButton('launch|x|1')).toBeUndefined();
    expect(decodeButton(undefined)).toBeUndefined();
  });
  it('labels the upscale buttons ⭐1–⭐4 by the variant they pick, not by parsing a label', () => {
    const keyboard = inlineKeyboardOf(
      [[{ label: 'U1', command: 'upscale', target: 'r1', variant: 0 }, { label: 'anything', command: 'upscale', target: 'r2', variant: 1 }], [{ label: '🔄 Again', command: 'reroll', target: 'j' }]],
      '7',
    );
    expect(keyboard?.inline_keyboard.map((row) => row.map((b) => b.text))).toEqual([['⭐1', '⭐2'], ['🔄 Again']]);
    expect(inlineKeyboardOf(undefined)).toBeUndefined();
  });
  it('compares the webhook secret exactly', () => {
    expect(secretMatches('s3cret-value', 's3cret-value')).toBe(true);
    expect(secretMatches('s3cret-valuE', 's3cret-value')).toBe(false);
    expect(secretMatches('s3cret', 's3cret-value')).toBe(false);
    expect(secretMatches(undefined, 's3cret-value')).toBe(false);
  });
  it('knows a chat that is closed to the bot from a passing failure', () => {
    const error = (code: number, description: string) => new GrammyError('x', { ok: false, error_code: code, description }, 'sendMessage', {});
    expect(isChatGone(error(403, 'Forbidden: bot was blocked by the user'))).toBe(true);
    expect(isChatGone(error(400, 'Bad Request: chat not found'))).toBe(true);
    expect(isChatGone(error(429, 'Too Many Requests: retry after 5'))).toBe(false);
    expect(isChatGone(error(400, 'Bad Request: message is not modified'))).toBe(false);
    expect(isChatGone(new Error('network'))).toBe(false);
  });
});

describe('file downloads', () => {
  const deps = (getFile: Api['getFile']) => ({ api: { getFile }, token: '123:secret-token-value-abcdefghij', apiRoot: 'http://127.0.0.1:1', downloadLimit: 20 * 1024 * 1024 });

  it('refuses a file over the limit before asking Telegram for it', async () => {
    const getFile = vi.fn();
    const source = telegramPhotoSource(deps(getFile), { fileId: 'f', size: 25 * 1024 * 1024, kind: 'document' }, 'photo 1');
    await expect(source.read(50 * 1024 * 1024)).rejects.toMatchObject({ code: 'FILE_TOO_LARGE', details: { max: 20 * 1024 * 1024 } });
    expect(getFile).not.toHaveBeenCalled();
  });
  it("turns getFile's 'file is too big' into FILE_TOO_LARGE", async () => {
    const getFile = vi.fn(async () => {
      throw new GrammyError('x', { ok: false, error_code: 400, description: 'Bad Request: file is too big' }, 'getFile', {});
    });
    const source = telegramPhotoSource(deps(getFile as unknown as Api['getFile']), { fileId: 'f', kind: 'photo' }, 'photo 1');
    await expect(source.read(1024)).rejects.toMatchObject({ code: 'FILE_TOO_LARGE' });
  });
  it('never puts the token-bearing URL in a download error', async () => {
    const getFile = vi.fn(async () => ({ file_id: 'f', file_unique_id: 'u', file_path: 'photos/file_1.jpg' }));
    const source = telegramPhotoSource(deps(getFile as unknown as Api['getFile']), { fileId: 'f', kind: 'photo' }, 'photo 1');
    const error = (await source.read(1024).catch((e: unknown) => e)) as Error;
    expect(error.message).toMatch(/download failed/);
    expect(JSON.stringify({ message: error.message, stack: error.stack, cause: String(error.cause) })).not.toContain('secret-token');
  });
});

describe('album gathering', () => {
  const part = (updateId: number, messageId: number, caption?: string): AlbumPart =>
    ({ updateId, message: { message_id: messageId, date: 0, chat: { id: 1, type: 'private', first_name: 'A' }, caption, media_group_id: 'g' } }) as AlbumPart;

  it('hands over an album once, in message order, once no part came for the quiet window', async () => {
    const albums: AlbumPart[][] = [];
    const gatherer = createAlbumGatherer({ state: createMemoryTelegramState(), quietMs: 60, onAlbum: async (parts) => void albums.push(parts), logger: silent });
    await gatherer.add('1:g', part(11, 3));
    await gatherer.add('1:g', part(10, 2, '/portrait'));
    await new Promise((r) => setTimeout(r, 30));
    await gatherer.add('1:g', part(12, 4));
    await gatherer.add('1:g', part(12, 4)); // the same message twice
    await gatherer.drain();
    expect(albums).toHaveLength(1);
    expect(albums[0]!.map((p) => p.message.message_id)).toEqual([2, 3, 4]);
  });
  it('a part that comes after the album was handled starts nothing', async () => {
    const onAlbum = vi.fn(async () => undefined);
    const state = createMemoryTelegramState();
    const gatherer = createAlbumGatherer({ state, quietMs: 20, onAlbum, logger: silent });
    await gatherer.add('1:g', part(1, 1, '/portrait'));
    await gatherer.drain();
    await gatherer.add('1:g', part(2, 2));
    await gatherer.drain();
    expect(onAlbum).toHaveBeenCalledTimes(1);
  });
});
