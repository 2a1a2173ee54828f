/**
 * local.settings.json, read the way `func start` reads it, so one file configures both hosts:
 *
 *   Values     app settings, copied into the environment before the app loads; a variable that is
 *              already set (non-empty) wins, with the same "Skipping ..." line Core Tools prints
 *   Host       LocalHttpPort (the port when --port is not given), CORS (comma-separated origins,
 *              or *), CORSCredentials
 *   IsEncrypted true is refused: Core Tools decrypts with a machine key this host does not have
 *
 * ConnectionStrings (used by .NET apps only) are ignored. A missing file is no error.
 */
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { StartupError } from '../errors';

export const LOCAL_SETTINGS_FILE = 'local.settings.json';

export interface LocalSettings {
  /** The file read, or undefined when there is none. */
  file: string | undefined;
  /** null: the file says null (skipped, as Core Tools does). */
  values: Record<string, string | null>;
  localHttpPort: number | undefined;
  cors: { origins: string[]; credentials: boolean } | undefined;
}

const settingValue = z.union([z.string(), z.number(), z.boolean(), z.null()]);
const schema = z
  .object({
    IsEncrypted: z.boolean().optional(),
    Values: z.record(z.string(), settingValue).optional(),
    ConnectionStrings: z.record(z.string(), z.unknown()).optional(),
    Host: z
      .object({
        LocalHttpPort: z.coerce.number().int().min(1).max(65535).optional(),
        CORS: z.string().optional(),
        CORSCredentials: z.boolean().optional(),
      })
      .loose()
      .optional(),
  })
  .loose();

/** Read `<appDir>/local.settings.json`; throws StartupError naming the file and field when it is malformed. */
export function readLocalSettings(appDir: string): LocalSettings {
  const file = path.join(appDir, LOCAL_SETTINGS_FILE);
  if (!fs.existsSync(file)) return { file: undefined, values: {}, localHttpPort: undefined, cors: undefined };
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new StartupError(`${file} is not valid JSON: ${(e as Error).message}`);
  }
  const r = schema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new StartupError(`${file}: ${issue.path.join('.') || '(top level)'}: ${issue.message}`);
  }
  const s = r.data;
  if (s.IsEncrypted)
    throw new StartupError(
      `${file} is encrypted ("IsEncrypted": true); decrypt it first (func settings decrypt) or write the values in plain text`,
    );
  const values: Record<string, string | null> = {};
  for (const [k, v] of Object.entries(s.Values ?? {})) values[k] = v === null ? null : String(v);
  const origins = (s.Host?.CORS ?? '')
    .split(',')
    .map((o) => o.trim())
    .filter(Boolean);
  return {
    file,
    values,
    localHttpPort: s.Host?.LocalHttpPort,
    cors: origins.length ? { origins, credentials: s.Host?.CORSCredentials === true } : undefined,
  };
}

/**
 * Copy Values into `env` as Core Tools does: a variable already set to a non-empty value is kept
 * (and reported); empty values are set when nothing is there. Returns the lines to print.
 */
export function applySettingValues(
  values: Record<string, string | null>,
  env: NodeJS.ProcessEnv = process.env,
): string[] {
  const notes: string[] = [];
  for (const [key, value] of Object.entries(values)) {
    if (!key) continue;
    if (env[key])
      notes.push(`Skipping '${key}' from local settings as it's already defined in current environment variables.`);
    else if (value === null) notes.push(`Skipping '${key}' because value is null`);
    else env[key] = value;
  }
  return notes;
}
