/**
 * `node dist/local/cli.js send <hub>`: publish JSON-lines events to a local event hub of a
 * running host, through its POST /api/_local/eventhubs/{hub} route (local host only).
 */
import fs from 'node:fs';
import { loadConfig, resetConfig } from '../../shared/config';
import { StartupError } from '../errors';
import { readLocalSettings, applySettingValues } from '../app/local-settings';
import { SEND, ParsedArgs } from './options';

export async function sendCommand(args: ParsedArgs): Promise<void> {
  const hub = args.positionals[0];
  if (!hub) throw new StartupError(`send needs the hub's name (usage: ${SEND.usage})`);
  const settings = readLocalSettings(process.cwd());
  applySettingValues(settings.values);
  resetConfig();
  const cfg = loadConfig();
  const v = args.values;
  const base = typeof v.url === 'string' ? v.url : `http://127.0.0.1:${settings.localHttpPort ?? cfg.port}`;
  const url = new URL(`/api/_local/eventhubs/${encodeURIComponent(hub)}`, base);
  if (typeof v['partition-key-field'] === 'string') url.searchParams.set('partitionKeyField', v['partition-key-field']);
  const file = typeof v.file === 'string' ? v.file : undefined;
  if (file && !fs.existsSync(file)) throw new StartupError(`--file ${file} does not exist`);
  const body = fs.readFileSync(file ?? 0);
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/x-ndjson', 'x-functions-key': cfg.adminKey },
    });
  } catch (e) {
    throw new StartupError(
      `no host answers at ${base} (${(e as Error & { cause?: Error }).cause?.message ?? (e as Error).message}); start it with npm start, or pass --url`,
    );
  }
  console.log(res.status, await res.text());
  if (!res.ok) process.exitCode = 1;
}
