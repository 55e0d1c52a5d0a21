ALTER TABLE "jobs" ADD COLUMN "likeness_retries" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "inputs_purged_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "results" ADD COLUMN "likeness_score" real;--> statement-breakpoint
ALTER TABLE "results" ADD COLUMN "verdict" text;--> statement-breakpoint
ALTER TABLE "results" ADD COLUMN "purged_at" timestamp with time zone;