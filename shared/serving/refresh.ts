/**
 * How old the model routing (aliases, traffic) an instance serves may be, by default: every
 * instance follows a promote or rollback made on another one within it (deployments.ts).
 * Its own module so config can name the default without loading onnxruntime.
 */
export const DEFAULT_REFRESH_MS = 2000;
