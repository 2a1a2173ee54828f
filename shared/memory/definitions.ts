/** Applied feature definitions in memory (the DefinitionStore of features/definitions/registry.ts). */
import type { DefinitionKind } from '../features/definitions/repo';
import type { AppliedDefinition, DefinitionStore, StoredDefinition } from '../features/definitions/registry';
import { copyOf } from './copy';

export class MemoryDefinitionStore implements DefinitionStore {
  private readonly currentByKey = new Map<string, AppliedDefinition>();
  private readonly historyByKey = new Map<string, Map<string, StoredDefinition>>();
  private seq = 0;

  async current(): Promise<AppliedDefinition[]> {
    return [...this.currentByKey.values()].map(copyOf);
  }

  async get(kind: DefinitionKind, name: string): Promise<AppliedDefinition | undefined> {
    const d = this.currentByKey.get(`${kind}:${name}`);
    return d && copyOf(d);
  }

  async history(kind: DefinitionKind, name: string): Promise<StoredDefinition[]> {
    return [...(this.historyByKey.get(`${kind}:${name}`)?.values() ?? [])].map(copyOf);
  }

  async record(d: StoredDefinition, previous: AppliedDefinition | undefined): Promise<'recorded' | 'lost-race'> {
    const key = `${d.kind}:${d.name}`;
    let history = this.historyByKey.get(key);
    if (!history) this.historyByKey.set(key, (history = new Map()));
    history.set(`${d.appliedAt}.${d.version}`, copyOf(d));
    const now = this.currentByKey.get(key);
    if (previous ? now?.token !== previous.token : now !== undefined) return 'lost-race';
    this.currentByKey.set(key, { ...copyOf(d), token: String(++this.seq) });
    return 'recorded';
  }
}
