/**
 * Versions of definitions: sha256 over the canonical JSON of the normalised definition
 * (shared/canonical-json.ts), so key order never matters and a definition's version is
 * stable across releases (the ledger, the registry and segment paths store it).
 *
 *   versionOf(normalised) -> string   64 hex chars
 *   shortVersion(version) -> string   first 12, for messages
 */
import { canonicalJson, sha256Hex } from '../../canonical-json';

export function versionOf(normalised: unknown): string {
  return sha256Hex(canonicalJson(normalised));
}

export function shortVersion(version: string): string {
  return version.slice(0, 12);
}
