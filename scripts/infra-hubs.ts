/**
 * `npm run infra:hubs`: writes infra/hubs.parameters.json, the Event Hubs of the deployment,
 * from the feature definitions the app serves: one hub per stream source (the prediction
 * log's among them) and which of them is the prediction log. Generated, not hand-kept, so a
 * new stream source cannot ship without its hub; checked in so `az deployment group create`
 * needs no build, and a test fails when it is out of date. `--check` exits 1 instead of
 * writing when the file differs.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { FeatureRepo } from '../shared/features/definitions/language';
import { featureRepo } from '../shared/definitions';
import { config } from '../shared/config';
import { repoRoot } from './repo-root';

export const HUBS_PARAMETERS_FILE = path.join(repoRoot(), 'infra', 'hubs.parameters.json');

/** The ARM parameters file for `eventHubs` and `predictionsHub`, as text (sorted, stable). */
export function hubsParametersText(repo: FeatureRepo, predictionsHub: string): string {
  const hubs = [...new Set([...repo.sources.values()].flatMap((s) => (s.stream ? [s.stream.hub] : [])))].sort();
  if (!hubs.includes(predictionsHub)) {
    throw new Error(
      `the prediction log's hub "${predictionsHub}" (STRATA_PREDICTIONS_HUB) is not the hub of any stream source; hubs: ${hubs.join(', ')}`,
    );
  }
  const file = {
    $schema: 'https://schema.management.azure.com/schemas/2019-04-01/deploymentParameters.json#',
    contentVersion: '1.0.0.0',
    parameters: {
      eventHubs: { value: hubs },
      predictionsHub: { value: predictionsHub },
    },
  };
  return `${JSON.stringify(file, null, 2)}\n`;
}

function main(): void {
  const text = hubsParametersText(featureRepo, config().predictionsHub);
  const current = fs.existsSync(HUBS_PARAMETERS_FILE) ? fs.readFileSync(HUBS_PARAMETERS_FILE, 'utf8') : '';
  const rel = path.relative(process.cwd(), HUBS_PARAMETERS_FILE);
  if (process.argv.includes('--check')) {
    if (current !== text) {
      console.error(`${rel} is out of date with the feature definitions: run npm run infra:hubs`);
      process.exit(1);
    }
    console.log(`${rel} is up to date`);
    return;
  }
  if (current === text) {
    console.log(`${rel} is up to date`);
    return;
  }
  fs.writeFileSync(HUBS_PARAMETERS_FILE, text);
  console.log(`wrote ${rel}`);
}

if (require.main === module) {
  try {
    main();
  } catch (e) {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  }
}
