CREATE TABLE "forgotten_identities" (
	"identity_hash" text PRIMARY KEY NOT NULL,
	"banned_at" timestamp with time zone,
	"ban_reason" text,
	"free_day" date,
	"free_used" integer DEFAULT 0 NOT NULL,
	"forgotten_at" timestamp with time zone DEFAULT now() NOT NULL
);
