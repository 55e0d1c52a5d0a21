import { z } from 'zod';

/** Queue names (DESIGN §4). */
export const GPU_QUEUE = 'gpu';
export const DELIVERY_QUEUE = 'delivery';

export const GPU_JOB_NAMES = ['portrait', 'restore', 'upscale'] as const;
export type GpuJobName = (typeof GPU_JOB_NAMES)[number];

/** A `gpu` job carries only the id of its `jobs` row; everything else is read from Postgres. */
export const gpuJobData = z.object({ jobId: z.uuid() }).strict();
export type GpuJobData = z.infer<typeof gpuJobData>;

export const DELIVERY_EVENTS = ['started', 'succeeded', 'failed'] as const;
export type DeliveryEvent = (typeof DELIVERY_EVENTS)[number];

/** A `delivery` job: tell the job's conversation that something happened to it. */
export const deliveryJobData = z.object({ jobId: z.uuid(), event: z.enum(DELIVERY_EVENTS) }).strict();
export type DeliveryJobData = z.infer<typeof deliveryJobData>;

/** BullMQ priorities: lower runs first. An upscale jumps the line, someone is waiting for their favourite. */
export const GPU_PRIORITY: Record<GpuJobName, number> = { upscale: 1, portrait: 10, restore: 10 };

/** One BullMQ id per delivery event of a job, so a repeated notice is dropped by the queue itself. */
export const deliveryJobId = (data: DeliveryJobData): string => `${data.event}-${data.jobId}`;
