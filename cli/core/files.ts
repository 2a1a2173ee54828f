/**
 * Local files as request bodies and as download targets, with progress: a file streamed to
 * the app (the body of an upload), and a download written to a temporary file beside the
 * target and renamed into place only when complete, so a failed download never leaves a
 * partial file under the asked name.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { UsageError } from './errors';
import type { Progress } from './progress';

export function fileSize(file: string, what = 'file'): number {
  try {
    const st = fs.statSync(file);
    if (!st.isFile()) throw new UsageError(`${what} ${file} is not a file`);
    return st.size;
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(
      `cannot read ${what} ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`,
    );
  }
}

/** The file as a web stream that reports the bytes read so far. */
export function fileBody(file: string, progress: Progress): ReadableStream<Uint8Array> {
  let sent = 0;
  const counting = fs.createReadStream(file).on('data', (chunk) => progress.update((sent += chunk.length)));
  return Readable.toWeb(counting) as unknown as ReadableStream<Uint8Array>;
}

/** Write to `target` through `target.<random>.part`; rename on success, remove on failure. */
export async function writeAtomically(
  target: string,
  write: (fd: fs.promises.FileHandle) => Promise<void>,
): Promise<void> {
  const dir = path.dirname(path.resolve(target));
  if (!fs.existsSync(dir)) throw new UsageError(`cannot write ${target}: folder ${dir} does not exist`);
  const part = path.join(dir, `.${path.basename(target)}.${process.pid}.${Date.now().toString(36)}.part`);
  const fd = await fs.promises.open(part, 'w');
  try {
    await write(fd);
    await fd.close();
    await fs.promises.rename(part, target);
  } catch (e) {
    await fd.close().catch(() => undefined);
    await fs.promises.rm(part, { force: true });
    throw e;
  }
}
