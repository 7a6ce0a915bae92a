// Payload schemas for every request the renderer can make. Pure (zod only): the main process, the
// serve transport and tests validate with them; the renderer only sees the inferred types.
import { z } from 'zod';
import { kvBudgetSettingProblem } from './policy/kvBudgetSetting.js';
import { loadSettingProblem } from './modelLoadSettings.js';
import { GGML_RPC_MAX_SERVERS, parseWorkerList } from './workerAddress.js';

export const Id = z.string().min(1).max(128);

/** A session's tunable settings; every field optional so a change can carry just one. */
export const SessionSettingsPatch = z
  .object({
    systemPrompt: z.string().max(20_000),
    temperature: z.number().min(0).max(2),
    topP: z.number().gt(0).max(1),
    maxTokens: z.number().int().min(1).max(32_768),
    policy: z.string().min(1).max(200),
    kvBudget: z
      .string()
      .max(40)
      .superRefine((value, ctx) => {
        const problem = kvBudgetSettingProblem(value);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      }),
  })
  .partial()
  .strict();

/** A whole number or auto, refused in the words the settings panel shows (modelLoadSettings.ts). */
const wholeOrAuto = (field: 'contextSize' | 'threads' | 'gpuLayers') =>
  z.union([z.literal('auto'), z.number()]).superRefine((value, ctx) => {
    const problem = loadSettingProblem(field, String(value));
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

/** How models are loaded (every chat); every field optional so a change can carry just one. */
export const ModelLoadSettingsPatch = z
  .object({
    contextSize: wholeOrAuto('contextSize'),
    threads: wholeOrAuto('threads'),
    gpuLayers: wholeOrAuto('gpuLayers'),
    flashAttention: z.boolean(),
  })
  .partial()
  .strict();

/** `sift worker` addresses (host:port), each checked as the CLI's --workers checks them. */
export const WorkerList = z
  .array(z.string().max(300))
  .max(GGML_RPC_MAX_SERVERS)
  .superRefine((workers, ctx) => {
    try {
      parseWorkerList(workers.join(','));
    } catch (error) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: (error as Error).message });
    }
  });

export const ExportFormat = z.enum(['markdown', 'json']);

/** Base64 of the file's bytes; 48 MiB of file is far beyond what a local context can hold anyway. */
const MAX_DOCUMENT_BASE64 = Math.ceil((48 * 1024 * 1024 * 4) / 3);

export const requestSchemas = {
  'app.info': z.object({}).strict(),
  'sessions.list': z.object({ query: z.string().max(500).optional() }).strict(),
  'sessions.create': z.object({ title: z.string().max(200).optional() }).strict(),
  'sessions.get': z.object({ sessionId: Id }).strict(),
  'sessions.rename': z.object({ sessionId: Id, title: z.string().trim().min(1).max(200) }).strict(),
  'sessions.delete': z.object({ sessionId: Id }).strict(),
  'sessions.restore': z.object({ sessionId: Id }).strict(),
  'sessions.export': z.object({ sessionId: Id, format: ExportFormat }).strict(),
  'sessions.updateSettings': z.object({ sessionId: Id, settings: SessionSettingsPatch }).strict(),
  'chat.send': z
    .object({ sessionId: Id, text: z.string().trim().min(1).max(200_000), documentIds: z.array(Id).max(20).optional() })
    .strict(),
  'chat.stop': z.object({ sessionId: Id }).strict(),
  'chat.regenerate': z.object({ sessionId: Id }).strict(),
  'chat.editAndResend': z.object({ sessionId: Id, messageId: Id, text: z.string().trim().min(1).max(200_000) }).strict(),
  'chat.preview': z.object({ sessionId: Id, text: z.string().max(200_000), documentIds: z.array(Id).max(20).optional() }).strict(),
  'documents.attach': z
    .object({
      sessionId: Id,
      name: z.string().min(1).max(255),
      mime: z.string().max(200).optional(),
      dataBase64: z.string().max(MAX_DOCUMENT_BASE64),
    })
    .strict(),
  'documents.text': z.object({ sessionId: Id, documentId: Id }).strict(),
  'models.state': z.object({}).strict(),
  'models.inspect': z.object({ path: z.string().min(1).max(4096) }).strict(),
  'models.add': z.object({ path: z.string().min(1).max(4096) }).strict(),
  'models.forget': z.object({ path: z.string().min(1).max(4096) }).strict(),
  'models.load': z.object({ path: z.string().min(1).max(4096) }).strict(),
  'models.reload': z.object({}).strict(),
  'models.setLoadSettings': z.object({ settings: ModelLoadSettingsPatch }).strict(),
  'models.setWorkers': z.object({ workers: WorkerList }).strict(),
  'models.pickFile': z.object({}).strict(),
  'models.download': z.object({ uri: z.string().min(3).max(2048) }).strict(),
  'models.cancelDownload': z.object({ downloadId: Id }).strict(),
  'models.calibrate': z.object({ path: z.string().min(1).max(4096) }).strict(),
  'models.cancelCalibration': z.object({}).strict(),
  'models.setAutoCalibrate': z.object({ enabled: z.boolean() }).strict(),
  'models.frontiers': z.object({ path: z.string().min(1).max(4096) }).strict(),
  'savedKv.list': z.object({}).strict(),
  'savedKv.remove': z.object({ id: z.string().uuid().optional() }).strict(),
  // 0 keeps nothing on disk; at most 1 TiB
  'savedKv.setBudget': z.object({ budgetBytes: z.number().int().min(0).max(1024 ** 4) }).strict(),
} as const;

export type RequestSchemas = typeof requestSchemas;
