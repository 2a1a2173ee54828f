/**
 * The host's built-in extensions, in start order. The Durable Functions engine (local/durable)
 * registers here; extensions that an embedding app brings are passed to LocalHost directly.
 */
import type { FunctionsCore } from './functions-core';
import type { HostExtension } from './extension';
import { createDurableExtension } from './durable';

export function extensionsFor(core: FunctionsCore): HostExtension[] {
  return [createDurableExtension(core)];
}
