ALTER TABLE "jobs" ADD COLUMN "undelivered_reason" text;--> statement-breakpoint
-- Conversation.threadId meant a forum topic on Telegram and an interaction id on Discord: each now has its own field.
UPDATE "jobs" SET "conversation" = ("conversation" - 'threadId') || jsonb_build_object('topicId', "conversation"->'threadId')
WHERE "conversation"->>'platform' = 'telegram' AND "conversation" ? 'threadId';--> statement-breakpoint
UPDATE "jobs" SET "conversation" = ("conversation" - 'threadId') || jsonb_build_object('interactionId', "conversation"->'threadId')
WHERE "conversation"->>'platform' = 'discord' AND "conversation" ? 'threadId';--> statement-breakpoint
UPDATE "jobs" SET "conversation" = "conversation" - 'threadId' WHERE "conversation" ? 'threadId';
