import { randomInt } from 'node:crypto';
import { AppError } from '../../../errors.js';
import type { CommandHandler } from '../context.js';
import { info, success } from '../reply.js';

/** Letters and digits that cannot be misread for each other (no 0/O, 1/I/L). */
const ALPHABET = 'ABCDEFGHJKMNPQRSTUVWXYZ23456789';
const CODE_LENGTH = 8;
export const LINK_CODE_TTL_MS = 10 * 60 * 1000;

/** A fresh code, shown as `ABCD-EFGH`: 31^8 ≈ 8.5e11 possibilities, alive for 10 minutes, usable once. */
export function newLinkCode(): string {
  const chars = Array.from({ length: CODE_LENGTH }, () => ALPHABET[randomInt(ALPHABET.length)]!);
  return `${chars.slice(0, 4).join('')}-${chars.slice(4).join('')}`;
}

/** Pure: what a person typed → the canonical code, or undefined when it cannot be one. */
export function normalizeLinkCode(typed: string): string | undefined {
  const bare = typed.toUpperCase().replace(/[\s-]/g, '');
  if (bare.length !== CODE_LENGTH || [...bare].some((c) => !ALPHABET.includes(c))) return undefined;
  return `${bare.slice(0, 4)}-${bare.slice(4)}`;
}

const PLATFORM_NAMES: Record<string, string> = { telegram: 'Telegram', discord: 'Discord', cli: 'the command line' };

/**
 * /link: without a code, gives one; with a code made on another platform, gives a confirmation
 * code that the first code's maker sends back on their platform, and that joins the two accounts,
 * so credits and history are shared from then on. Both sides act: a code someone else saw is useless.
 */
export const linkCommand: CommandHandler = async (ctx) => {
  const typed = String(ctx.request.options?.code ?? '').trim();
  if (!typed) {
    const code = newLinkCode();
    await ctx.deps.repos.links.createCode(ctx.account.id, code, new Date(ctx.now.getTime() + LINK_CODE_TTL_MS));
    ctx.logger.info({ accountId: ctx.account.id }, 'link code issued');
    return info(
      [
        `Your link code: ${code}`,
        `Within 10 minutes, send "/link ${code}" to Likeness on your other platform (Discord or Telegram).`,
        'Both will then share one account: credits, history and /forget.',
      ].join('\n'),
      { ephemeral: true },
    );
  }
  const code = normalizeLinkCode(typed);
  if (!code) throw new AppError('LINK_CODE_INVALID', 'malformed link code');
  const confirmation = { code: newLinkCode(), expiresAt: new Date(ctx.now.getTime() + LINK_CODE_TTL_MS) };
  const outcome = await ctx.deps.repos.links.redeem(code, ctx.account.id, ctx.now, confirmation);
  switch (outcome.status) {
    case 'invalid':
      throw new AppError('LINK_CODE_INVALID', 'unknown, used or expired link code');
    case 'same-platform':
      throw new AppError('LINK_SAME_PLATFORM', 'both accounts on one platform', { details: { platform: PLATFORM_NAMES[outcome.platform] ?? outcome.platform } });
    case 'confirm': {
      const where = outcome.platforms.map((p) => PLATFORM_NAMES[p] ?? p).join(' or ');
      ctx.logger.info({ accountId: ctx.account.id }, 'link code redeemed; waiting for the maker to confirm');
      return info(
        [
          `Almost done. To be sure both accounts are yours, send "/link ${confirmation.code}" to Likeness on ${where}, from the account that made the first code, within 10 minutes.`,
          'Nothing is shared until then.',
        ].join('\n'),
        { ephemeral: true },
      );
    }
    case 'same-account':
      return info('This account is already linked to the one that made the code.', { ephemeral: true });
    case 'linked':
      ctx.logger.info({ accountId: outcome.accountId, absorbed: ctx.account.id, platforms: outcome.platforms }, 'accounts linked');
      return success(`Linked: ${outcome.platforms.map((p) => PLATFORM_NAMES[p] ?? p).join(' and ')} now share one Likeness account. Send /credits to see your balance.`, {
        ephemeral: true,
      });
  }
};
