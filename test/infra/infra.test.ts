/**
 * What can be checked about infra/ without a Bicep compiler or an Azure subscription: the
 * templates are read (./bicep.ts) and evaluated for several parameter sets (./bicep-eval.ts),
 * and held against the code: every setting shared/config reads is set, no key reaches an app
 * setting, each role the code needs is assigned (and no other), every resource sends
 * diagnostics, the hubs match the definitions, alerts query names that exist. README
 * "Deploying to Azure" lists what `bicep build` and `what-if` check on top.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LOCAL_ONLY_SETTINGS, SETTING_NAMES, config } from '../../shared/config';
import { featureRepo } from '../../shared/definitions';
import { hubsParametersText, HUBS_PARAMETERS_FILE } from '../../scripts/infra-hubs';
import { allModuleCalls, calleeName, declaration, literal, loadDeployment, reach } from './bicep';
import { allDeployedModules, isPlainObject, Opaque, opaques, Scope, Value } from './bicep-eval';
import {
  appSettings,
  appSources,
  containersInCode,
  deployment,
  exportedMetrics,
  INFRA,
  modulesOf,
  onlyModule,
  parameterFile,
  PARAMETER_FILES,
  refOf,
  registeredFunctions,
  ROOT,
  rootScope,
  SCENARIOS,
} from './deployment';

const AVM = {
  identity: 'avm/res/managed-identity/user-assigned-identity:',
  logs: 'avm/res/operational-insights/workspace:',
  insights: 'avm/res/insights/component:',
  storage: 'avm/res/storage/storage-account:',
  eventHubs: 'avm/res/event-hub/namespace:',
  redis: 'avm/res/cache/redis-enterprise:',
  keyVault: 'avm/res/key-vault/vault:',
  plan: 'avm/res/web/serverfarm:',
  site: 'avm/res/web/site:',
  vnet: 'avm/res/network/virtual-network:',
  dnsZone: 'avm/res/network/private-dns-zone:',
  actionGroup: 'avm/res/insights/action-group:',
  alertRule: 'avm/res/insights/scheduled-query-rule:',
};

/** App settings that are not shared/config's but the Functions host's or the platform's. */
const HOST_SETTINGS: Record<string, string> = {
  AZURE_CLIENT_ID: 'the user-assigned identity DefaultAzureCredential (@azure/identity) signs in as',
  APPLICATIONINSIGHTS_CONNECTION_STRING:
    'where the Functions host sends telemetry (an address, not a credential: local auth is off)',
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'the host sends telemetry with the identity',
  FUNCTIONS_EXTENSION_VERSION: 'Elastic Premium: the host version (Flex sets it in functionAppConfig)',
  FUNCTIONS_WORKER_RUNTIME: 'Elastic Premium: the language worker (Flex: functionAppConfig.runtime)',
  WEBSITE_RUN_FROM_PACKAGE: 'Elastic Premium: the package blob (no Azure Files content share, which needs a key)',
  WEBSITE_RUN_FROM_PACKAGE_BLOB_MI_RESOURCE_ID: 'Elastic Premium: the identity that reads the package blob',
};

/** Settings Flex Consumption rejects or ignores (functionAppConfig replaces them). */
const FLEX_DEPRECATED = [
  'FUNCTIONS_WORKER_RUNTIME',
  'FUNCTIONS_EXTENSION_VERSION',
  'WEBSITE_RUN_FROM_PACKAGE',
  'WEBSITE_CONTENTAZUREFILECONNECTIONSTRING',
  'WEBSITE_CONTENTSHARE',
  'SCM_DO_BUILD_DURING_DEPLOYMENT',
  'ENABLE_ORYX_BUILD',
  'WEBSITE_NODE_DEFAULT_VERSION',
  'WEBSITE_TIME_ZONE',
];

/** Environment variables the app may read outside shared/config: the platform sets them. */
const PLATFORM_PROVIDED: Record<string, string> = {
  WEBSITE_HOSTNAME: 'App Service sets it on every instance (the local host sets it to its address)',
};

/** Metric names alert rules may use before the app exports them, and who brings them. */
const PENDING_METRICS: Record<string, string> = {
  strata_drift_detected: 'monitoring (issue 14) exports it per model, version and feature',
  strata_ingest_lag_seconds:
    'ingest: now minus the enqueued time of the newest event of a batch, per source (not exported yet)',
};

/** Each role the code needs, where, and the code that needs it (so the list cannot outlive the need). */
const ROLE_NEEDS: Array<{ role: string; on: string; why: string; evidence: RegExp | 'host' | 'key-vault-references' }> =
  [
    {
      role: 'Storage Blob Data Owner',
      on: AVM.storage,
      why: 'host state (AzureWebJobsStorage), the offline store, models, training sets, the app package',
      evidence: /from '@azure\/storage-blob'/,
    },
    {
      role: 'Storage Queue Data Contributor',
      on: AVM.storage,
      why: 'Durable Functions queues, blob-trigger poison queue',
      evidence: /from 'durable-functions'/,
    },
    {
      role: 'Storage Table Data Contributor',
      on: AVM.storage,
      why: 'manifests, registries, ledger, Durable history',
      evidence: /from '@azure\/data-tables'/,
    },
    {
      role: 'Azure Event Hubs Data Receiver',
      on: AVM.eventHubs,
      why: 'the ingest triggers',
      evidence: /\bapp\.eventHub\(/,
    },
    {
      role: 'Azure Event Hubs Data Sender',
      on: AVM.eventHubs,
      why: 'the prediction log',
      evidence: /\bEventHubProducerClient\b/,
    },
    {
      role: 'Monitoring Metrics Publisher',
      on: AVM.insights,
      why: 'telemetry with Entra ID (Application Insights local auth is off)',
      evidence: 'host',
    },
    {
      role: 'Key Vault Secrets User',
      on: AVM.keyVault,
      why: 'Key Vault references in app settings',
      evidence: 'key-vault-references',
    },
  ];

const KEY_VAULT_REFERENCE =
  /^@Microsoft\.KeyVault\((VaultName=[^;()]+;SecretName=[A-Za-z0-9-«»]+|SecretUri=https:\/\/[^()]+)\)$/;

// ---------------------------------------------------------------- helpers

function describeValue(v: Value): string {
  if (v instanceof Opaque) return `<${v.ref}>`;
  return JSON.stringify(v);
}

/** A string expression with unknown parts as «…», for checking a value's shape. */
function template(v: Value | undefined): string | undefined {
  if (typeof v === 'string') return v;
  if (v instanceof Opaque && v.expr.kind === 'string')
    return v.expr.parts.map((p) => (typeof p === 'string' ? p : '«»')).join('');
  return undefined;
}

/** A setting's family: `AzureWebJobsStorage__accountName` belongs to `AzureWebJobsStorage`. */
const family = (name: string) => name.split('__')[0]!;

/** Registry module outputs that hold a secret, and the one exception (see HOST_SETTINGS). */
function secretOutput(target: string, output: string): boolean {
  if (target.includes(AVM.insights) && output === 'connectionString') return false;
  return /key|connectionstring|secret|password|sas/i.test(output);
}

const SECRET_LITERALS: Array<[RegExp, string]> = [
  [/AccountKey=/i, 'a storage account key'],
  [/SharedAccessKey(Name)?=/i, 'an Event Hubs / Service Bus SAS key'],
  [/[?&]sig=/i, 'a SAS token'],
  [/Password=/i, 'a password'],
  [/^[a-z][a-z0-9+.-]*:\/\/[^/@\s]*:[^/@\s]+@/i, 'a password in a URL'],
];

/** What is wrong with one setting value: a key, a listKeys, a secure param, a secret output. */
function settingProblems(name: string, v: Value): string[] {
  const problems: string[] = [];
  const t = template(v);
  if (t !== undefined) {
    for (const [re, what] of SECRET_LITERALS) if (re.test(t)) problems.push(`${name} holds ${what}: ${t}`);
    if (t.startsWith('@Microsoft.KeyVault') && !KEY_VAULT_REFERENCE.test(t))
      problems.push(`${name} is a malformed Key Vault reference: ${t}`);
  }
  for (const o of opaques(v)) {
    for (const { expr, instance } of reach(o.expr, o.instance)) {
      const fn = calleeName(expr);
      if (fn?.startsWith('list')) problems.push(`${name} comes from ${fn}() (${instance.file.file}:${expr.line})`);
      if (expr.kind === 'ident') {
        const d = declaration(instance.file, expr.name);
        if (d?.kind === 'param' && d.decorators.some((x) => x.name === 'secure'))
          problems.push(`${name} comes from the @secure() param ${expr.name}`);
      }
      if (
        expr.kind === 'member' &&
        expr.object.kind === 'member' &&
        expr.object.name === 'outputs' &&
        expr.object.object.kind === 'ident'
      ) {
        const call = instance.modules.find(
          (m) => m.decl.name === (expr.object as { object: { name: string } }).object.name,
        );
        if (call && !call.local && secretOutput(call.target, expr.name))
          problems.push(`${name} comes from ${call.target} output ${expr.name}`);
      }
    }
  }
  return problems;
}

/** Role assignments anywhere in a module's params: [role, principal ref]. */
function roleAssignments(params: Value): Array<{ role: string; principal: string | undefined }> {
  const out: Array<{ role: string; principal: string | undefined }> = [];
  const visit = (v: Value) => {
    if (Array.isArray(v)) v.forEach(visit);
    else if (isPlainObject(v)) {
      if (typeof v.roleDefinitionIdOrName === 'string')
        out.push({
          role: v.roleDefinitionIdOrName,
          principal: refOf(v.principalId) ?? describeValue(v.principalId ?? null),
        });
      Object.values(v).forEach(visit);
    }
  };
  visit(params);
  return out;
}

const APP_PRINCIPAL = `br/public:${AVM.identity}0.6.0#principalId`;
const WORKSPACE_ID = `br/public:${AVM.logs}0.16.1#resourceId`;

function at(o: Value | undefined, ...keys: string[]): Value | undefined {
  let v = o;
  for (const k of keys) v = isPlainObject(v) ? v[k] : undefined;
  return v;
}

// ---------------------------------------------------------------- checks

describe('infra/: the templates as written', () => {
  const files = [
    ...new Set(
      [deployment(), ...allModuleCalls(deployment()).flatMap(({ call }) => (call.local ? [call.local] : []))].map(
        (i) => i.file,
      ),
    ),
  ];

  it('every parameter of main.bicep and of its local modules has a @description', () => {
    const missing: string[] = [];
    for (const f of files) {
      for (const d of f.declarations) {
        if (d.kind !== 'param') continue;
        const desc = d.decorators.find((x) => x.name === 'description');
        const text = desc?.args[0] ? literal(desc.args[0]) : undefined;
        if (!text || text.trim().length < 3) missing.push(`${path.relative(ROOT, f.file)}: param ${d.name}`);
      }
    }
    expect(missing).toEqual([]);
    expect(files.map((f) => path.relative(INFRA, f.file)).sort()).toEqual([
      'main.bicep',
      'modules/alerts.bicep',
      'modules/functionapp.bicep',
      'modules/network.bicep',
      'modules/upload-events.bicep',
    ]);
  });

  it('every registry module is an Azure Verified Module pinned to an exact version', () => {
    const registry = allModuleCalls(deployment())
      .filter(({ call }) => !call.local)
      .map(({ call }) => call.target);
    expect(registry.length).toBeGreaterThanOrEqual(13);
    for (const t of registry)
      expect(t).toMatch(/^br\/public:avm\/(res|ptn|utl)\/[a-z0-9-]+\/[a-z0-9-]+:\d+\.\d+\.\d+$/);
  });

  it('the parameter files name only parameters main.bicep declares, with their types, and supply every required one', () => {
    const params = new Map(
      deployment().file.declarations.flatMap((d) => (d.kind === 'param' ? [[d.name, d] as const] : [])),
    );
    const given = Object.assign({}, ...PARAMETER_FILES.map(parameterFile)) as Record<string, Value>;
    const typeOf = (v: Value) =>
      Array.isArray(v)
        ? 'array'
        : v === null
          ? 'null'
          : typeof v === 'number'
            ? 'int'
            : typeof v === 'boolean'
              ? 'bool'
              : typeof v === 'string'
                ? 'string'
                : 'object';
    for (const [name, v] of Object.entries(given)) {
      expect(params.has(name), `${name} is not a parameter of main.bicep`).toBe(true);
      expect(typeOf(v), `type of ${name}`).toBe(params.get(name)!.type.replace('?', ''));
    }
    for (const [name, d] of params)
      if (!d.default) expect(Object.keys(given), `required param ${name}`).toContain(name);
  });

  it('every parameter set evaluates: no unknown name, function or undeployed module output', () => {
    for (const s of SCENARIOS) expect(() => allDeployedModules(rootScope(s.params)), s.name).not.toThrow();
  });
});

describe('infra/: the Function App settings against shared/config', () => {
  it('every setting shared/config reads is set (or its identity form NAME__...), except the local-only ones, on every parameter set', () => {
    expect(LOCAL_ONLY_SETTINGS.every((n) => SETTING_NAMES.includes(n))).toBe(true);
    for (const s of SCENARIOS) {
      const families = new Set(Object.keys(appSettings(rootScope(s.params))).map(family));
      for (const name of SETTING_NAMES) {
        if (LOCAL_ONLY_SETTINGS.includes(name))
          expect(families.has(name), `${s.name}: ${name} is local-only`).toBe(false);
        else expect(families.has(name), `${s.name}: ${name} is not set`).toBe(true);
      }
    }
  });

  it('every app setting is one shared/config reads, a host setting, or a declared Key Vault secret', () => {
    for (const s of SCENARIOS) {
      const declared = (s.params.keyVaultSecretSettings as string[] | undefined) ?? [];
      for (const name of Object.keys(appSettings(rootScope(s.params)))) {
        const known = SETTING_NAMES.includes(family(name)) || name in HOST_SETTINGS || declared.includes(name);
        expect(
          known,
          `${s.name}: ${name} is read by nothing (add it to shared/config, or to HOST_SETTINGS with the reason)`,
        ).toBe(true);
      }
    }
  });

  it('local.settings.example.json lists every setting shared/config reads', () => {
    const example = JSON.parse(fs.readFileSync(path.join(ROOT, 'local.settings.example.json'), 'utf8')) as {
      Values: Record<string, string>;
    };
    for (const name of SETTING_NAMES) expect(Object.keys(example.Values)).toContain(name);
  });

  it('the app reads the environment only through shared/config, apart from what the platform sets', () => {
    for (const { file, text } of appSources()) {
      if (file.startsWith(path.join('shared', 'config'))) continue;
      expect(text, `${file} indexes process.env`).not.toMatch(/process\.env\[/);
      for (const m of text.matchAll(/process\.env\.(\w+)/g))
        expect(Object.keys(PLATFORM_PROVIDED), `${file} reads ${m[1]}`).toContain(m[1]);
    }
  });

  it("connections are identity-based: the identity's client id, the account name, the namespace FQDN, no connection string", () => {
    for (const s of SCENARIOS) {
      const a = appSettings(rootScope(s.params));
      const clientId = `br/public:${AVM.identity}0.6.0#clientId`;
      expect(refOf(a.AZURE_CLIENT_ID)).toBe(clientId);
      expect(a.AzureWebJobsStorage).toBeUndefined();
      expect(refOf(a.AzureWebJobsStorage__accountName)).toBe(`br/public:${AVM.storage}0.33.0#name`);
      expect(a.AzureWebJobsStorage__credential).toBe('managedidentity');
      expect(refOf(a.AzureWebJobsStorage__clientId)).toBe(clientId);
      expect(a.EVENTHUB_CONNECTION).toBeUndefined();
      expect(template(a.EVENTHUB_CONNECTION__fullyQualifiedNamespace)).toBe('«».servicebus.windows.net');
      expect(a.EVENTHUB_CONNECTION__credential).toBe('managedidentity');
      expect(template(a.APPLICATIONINSIGHTS_AUTHENTICATION_STRING)).toBe('ClientId=«»;Authorization=AAD');
      if (s.params.redisAuthentication === 'AccessKey') {
        expect(template(a.REDIS_URL)).toBe('@Microsoft.KeyVault(VaultName=«»;SecretName=«»)');
      } else {
        expect(template(a.REDIS_URL)).toBe('rediss://«»:«»');
        expect(a.REDIS_URL__credential).toBe('managedidentity');
      }
    }
  });

  it('no app setting holds a key, a connection string with a key, a listKeys() result or a @secure() value', () => {
    for (const s of SCENARIOS) {
      const a = appSettings(rootScope(s.params));
      const problems = Object.entries(a).flatMap(([k, v]) => settingProblems(k, v));
      expect(problems, s.name).toEqual([]);
      for (const name of (s.params.keyVaultSecretSettings as string[] | undefined) ?? [])
        expect(template(a[name]), name).toMatch(KEY_VAULT_REFERENCE);
    }
  });

  it('the secret check catches a listKeys() through a var and a param, a password in a URL and a @secure() param', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-bicep-'));
    fs.mkdirSync(path.join(dir, 'modules'));
    fs.writeFileSync(
      path.join(dir, 'main.bicep'),
      [
        "resource st 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {",
        "  name: 'x'",
        '}',
        '@secure()',
        "param redisPassword string = ''",
        "var conn = 'DefaultEndpointsProtocol=https;AccountName=x;AccountKey=${st.listKeys().keys[0].value}'",
        "module app 'modules/app.bicep' = {",
        "  name: 'app'",
        '  params: {',
        '    storage: conn',
        '    password: redisPassword',
        '  }',
        '}',
        '',
      ].join('\n'),
    );
    fs.writeFileSync(
      path.join(dir, 'modules', 'app.bicep'),
      [
        "@description('a connection')",
        'param storage string',
        "@description('a password')",
        'param password string',
        'var settings = {',
        '  AzureWebJobsStorage: storage',
        "  REDIS_URL: 'rediss://:hunter2@cache:10000'",
        '  REDIS_PASSWORD: password',
        '}',
        "module site 'br/public:avm/res/web/site:0.24.0' = {",
        "  name: 'site'",
        '  params: {',
        '    configs: [',
        '      {',
        "        name: 'appsettings'",
        '        properties: settings',
        '      }',
        '    ]',
        '  }',
        '}',
        '',
      ].join('\n'),
    );
    try {
      const scope: Scope = { instance: loadDeployment(path.join(dir, 'main.bicep')), params: {}, env: new Map() };
      const problems = Object.entries(appSettings(scope)).flatMap(([k, v]) => settingProblems(k, v));
      expect(problems.some((p) => p.startsWith('AzureWebJobsStorage holds a storage account key'))).toBe(true);
      expect(problems.some((p) => p.startsWith('AzureWebJobsStorage comes from listKeys()'))).toBe(true);
      expect(problems).toContain('REDIS_URL holds a password in a URL: rediss://:hunter2@cache:10000');
      expect(problems).toContain('REDIS_PASSWORD comes from the @secure() param redisPassword');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('infra/: identity, keys and roles', () => {
  it('the app runs as the user-assigned identity, which also reads Key Vault references', () => {
    for (const s of SCENARIOS) {
      const site = onlyModule(rootScope(s.params), AVM.site).params;
      const id = `br/public:${AVM.identity}0.6.0#resourceId`;
      expect((at(site, 'managedIdentities', 'userAssignedResourceIds') as Value[]).map(refOf)).toEqual([id]);
      expect(refOf(site.keyVaultAccessIdentityResourceId)).toBe(id);
      expect(at(site, 'managedIdentities', 'systemAssigned')).toBeUndefined();
    }
  });

  it('shared keys and local auth are off wherever the service allows it', () => {
    for (const s of SCENARIOS) {
      const scope = rootScope(s.params);
      const storage = onlyModule(scope, AVM.storage).params;
      expect(storage.allowSharedKeyAccess).toBe(false);
      expect(storage.allowBlobPublicAccess).toBe(false);
      const eh = onlyModule(scope, AVM.eventHubs).params;
      expect(eh.disableLocalAuth).toBe(true);
      expect(eh.authorizationRules).toEqual([]);
      for (const hub of eh.eventhubs as Value[]) expect(at(hub, 'authorizationRules')).toEqual([]);
      expect(onlyModule(scope, AVM.insights).params.disableLocalAuth).toBe(true);
      expect(at(onlyModule(scope, AVM.logs).params, 'features', 'disableLocalAuth')).toBe(true);
      // Redis keys exist only in AccessKey mode, and then only in Key Vault (see the settings tests).
      expect(at(onlyModule(scope, AVM.redis).params, 'database', 'accessKeysAuthentication')).toBe(
        s.params.redisAuthentication === 'AccessKey' ? 'Enabled' : 'Disabled',
      );
      expect(onlyModule(scope, AVM.keyVault).params.enableRbacAuthorization).toBe(true);
    }
  });

  it('each role the code needs is assigned to the app identity on the resource it needs it on, and no other role', () => {
    const code = appSources()
      .map((f) => f.text)
      .join('\n');
    for (const need of ROLE_NEEDS) {
      if (need.evidence instanceof RegExp)
        expect(code, `${need.role} (${need.why}): nothing in the code needs it any more`).toMatch(need.evidence);
    }
    for (const s of SCENARIOS) {
      const scope = rootScope(s.params);
      const usesKeyVault = Object.values(appSettings(scope)).some((v) =>
        template(v)?.startsWith('@Microsoft.KeyVault'),
      );
      const assigned = allDeployedModules(scope).flatMap((m) =>
        roleAssignments(m.params).map((r) => ({ ...r, on: m.call.target })),
      );
      const toApp = assigned.filter((r) => r.principal === APP_PRINCIPAL);
      for (const need of ROLE_NEEDS) {
        if (need.evidence === 'key-vault-references' && !usesKeyVault) continue;
        expect(
          toApp.some((r) => r.role === need.role && r.on.includes(need.on)),
          `${s.name}: ${need.role} on ${need.on} (${need.why})`,
        ).toBe(true);
      }
      for (const r of toApp)
        expect(
          ROLE_NEEDS.some((n) => n.role === r.role && r.on.includes(n.on)),
          `${s.name}: ${r.role} on ${r.on} is needed by nothing`,
        ).toBe(true);
      // Redis data access is an access policy assignment, not an Azure role.
      expect(/from 'ioredis'/.test(code)).toBe(true);
      const policies = at(onlyModule(scope, AVM.redis).params, 'database', 'accessPolicyAssignments') as Value[];
      expect(policies.map((p) => [refOf(at(p, 'userObjectId')), at(p, 'accessPolicyName')])).toEqual([
        [APP_PRINCIPAL, 'default'],
      ]);
    }
  });
});

describe('infra/: hosting', () => {
  it('Flex Consumption: Node 22, always-ready instances for the HTTP group, the package blob read with the identity, no Flex-deprecated setting', () => {
    const scope = rootScope({ httpAlwaysReady: 2 });
    expect(onlyModule(scope, AVM.plan).params.skuName).toBe('FC1');
    const site = onlyModule(scope, AVM.site).params;
    expect(at(site, 'functionAppConfig', 'runtime')).toEqual({ name: 'node', version: '22' });
    expect(at(site, 'functionAppConfig', 'scaleAndConcurrency', 'alwaysReady')).toEqual([
      { name: 'http', instanceCount: 2 },
    ]);
    const storage = at(site, 'functionAppConfig', 'deployment', 'storage');
    expect(template(at(storage, 'value')!)).toBe('«»«»');
    expect(at(storage, 'authentication', 'type')).toBe('UserAssignedIdentity');
    expect(at(site.siteConfig, 'alwaysOn')).toBeUndefined();
    for (const name of FLEX_DEPRECATED) expect(Object.keys(appSettings(scope))).not.toContain(name);
    expect(
      at(
        onlyModule(rootScope({ httpAlwaysReady: 0 }), AVM.site).params,
        'functionAppConfig',
        'scaleAndConcurrency',
        'alwaysReady',
      ),
    ).toEqual([]);
  });

  it('Elastic Premium: Node 22 on Linux, run from the package blob with the identity, no Azure Files content share', () => {
    const scope = rootScope({ hostingPlan: 'ElasticPremium', premiumSku: 'EP2' });
    expect(onlyModule(scope, AVM.plan).params.skuName).toBe('EP2');
    const site = onlyModule(scope, AVM.site).params;
    expect(site.functionAppConfig).toBeNull();
    expect(at(site.siteConfig, 'linuxFxVersion')).toBe('Node|22');
    const a = appSettings(scope);
    expect(a.FUNCTIONS_WORKER_RUNTIME).toBe('node');
    expect(template(a.WEBSITE_RUN_FROM_PACKAGE)).toBe('«»«»/strata.zip');
    expect(refOf(a.WEBSITE_RUN_FROM_PACKAGE_BLOB_MI_RESOURCE_ID)).toBe(`br/public:${AVM.identity}0.6.0#resourceId`);
    expect(Object.keys(a)).not.toContain('WEBSITE_CONTENTAZUREFILECONNECTIONSTRING');
  });

  it('the uploads blob trigger uses the Event Grid source, and the subscription targets it', () => {
    const blobs = registeredFunctions().filter((f) => f.trigger === 'app.storageBlob');
    expect(blobs.length).toBeGreaterThan(0);
    for (const f of blobs)
      expect(f.options, `${f.name}: Flex Consumption only has the Event Grid blob trigger`).toMatch(
        /source:\s*'EventGrid'/,
      );
    const events = allModuleCalls(deployment()).find(({ call }) => call.target.endsWith('upload-events.bicep'))!.call
      .local!;
    const sub = events.file.declarations.find(
      (d) => d.kind === 'resource' && d.type.startsWith('Microsoft.EventGrid/systemTopics/eventSubscriptions'),
    )!;
    const text = JSON.stringify(sub);
    for (const f of blobs) {
      expect(text).toContain(`functionName=Host.Functions.${f.name}&code=`);
      const container = /path:\s*'([a-z0-9-]+)\//.exec(f.options)![1]!;
      expect(text).toContain(`/blobServices/default/containers/${container}/blobs/`);
    }
    expect(modulesOf(rootScope(), 'upload-events.bicep')).toHaveLength(0);
    expect(modulesOf(rootScope({ subscribeUploads: true }), 'upload-events.bicep')).toHaveLength(1);
  });

  it('the storage account has every blob container the code uses', () => {
    const containers = (
      onlyModule(rootScope(), AVM.storage).params.blobServices as { containers: Array<{ name: string }> }
    ).containers.map((c) => c.name);
    const used = containersInCode();
    expect(used.size).toBeGreaterThanOrEqual(5);
    for (const c of used) expect(containers).toContain(c);
  });
});

describe('infra/: Event Hubs from the definitions', () => {
  it('infra/hubs.parameters.json is what `npm run infra:hubs` writes from the feature definitions', () => {
    expect(fs.readFileSync(HUBS_PARAMETERS_FILE, 'utf8'), 'run npm run infra:hubs').toBe(
      hubsParametersText(featureRepo, config().predictionsHub),
    );
  });

  it("one hub per stream source, each with the app's consumer group; auto-inflate is a parameter; the settings name the same hub and group", () => {
    const streamHubs = [...featureRepo.sources.values()].flatMap((s) => (s.stream ? [s.stream.hub] : []));
    const sets: Array<Record<string, Value>> = [
      {},
      { eventHubAutoInflate: false, eventHubConsumerGroup: 'other', eventHubPartitions: 8 },
    ];
    for (const overrides of sets) {
      const scope = rootScope(overrides);
      const eh = onlyModule(scope, AVM.eventHubs).params;
      const hubs = eh.eventhubs as Array<{
        name: string;
        consumergroups: Array<{ name: string }>;
        partitionCount: number;
      }>;
      expect(hubs.map((h) => h.name).sort()).toEqual([...new Set(streamHubs)].sort());
      const group = appSettings(scope).EVENTHUB_CONSUMER_GROUP;
      expect(group).toBe(scope.params.eventHubConsumerGroup ?? 'strata');
      for (const h of hubs) {
        expect(h.consumergroups.map((c) => c.name)).toEqual([group]);
        expect(h.partitionCount).toBe(scope.params.eventHubPartitions ?? 4);
      }
      expect(eh.isAutoInflateEnabled).toBe(scope.params.eventHubAutoInflate);
      expect(eh.maximumThroughputUnits).toBe(10);
      expect(appSettings(scope).STRATA_PREDICTIONS_HUB).toBe(config().predictionsHub);
    }
  });
});

describe('infra/: diagnostics and networking', () => {
  /** Modules with nothing to send (Azure Monitor has no diagnostic categories for them). */
  const NO_DIAGNOSTICS = [AVM.identity, AVM.dnsZone, AVM.actionGroup, AVM.alertRule];

  it('every resource sends its diagnostics to the Log Analytics workspace (Flex Consumption plan and app: not supported there)', () => {
    for (const s of SCENARIOS) {
      const flex = (s.params.hostingPlan ?? 'FlexConsumption') === 'FlexConsumption';
      for (const m of allDeployedModules(rootScope(s.params))) {
        if (m.call.local || NO_DIAGNOSTICS.some((t) => m.call.target.includes(t))) continue;
        const isApp = m.call.target.includes(AVM.site) || m.call.target.includes(AVM.plan);
        const where = `${s.name}: ${m.call.decl.name} (${m.call.target})`;
        const settings = [
          m.params.diagnosticSettings,
          at(m.params, 'blobServices', 'diagnosticSettings'),
          at(m.params, 'queueServices', 'diagnosticSettings'),
          at(m.params, 'tableServices', 'diagnosticSettings'),
          at(m.params, 'database', 'diagnosticSettings'),
        ];
        if (isApp && flex) {
          expect(m.params.diagnosticSettings, where).toEqual([]);
          continue;
        }
        expect(
          Array.isArray(m.params.diagnosticSettings) && (m.params.diagnosticSettings as Value[]).length > 0,
          where,
        ).toBe(true);
        for (const list of settings) {
          if (list === undefined) continue;
          for (const d of list as Value[]) {
            const toWorkspace =
              refOf(at(d, 'workspaceResourceId')) === WORKSPACE_ID ||
              (m.call.target.includes(AVM.logs) && at(d, 'useThisWorkspace') === true);
            expect(toWorkspace, where).toBe(true);
          }
        }
      }
      // Plain resources (upload-events.bicep): each has a diagnostic setting scoped to it.
      const events = allModuleCalls(deployment()).find(({ call }) => call.target.endsWith('upload-events.bicep'))!.call
        .local!;
      const decls = events.file.declarations;
      for (const r of decls) {
        if (r.kind !== 'resource' || r.existing || /diagnosticSettings|\/eventSubscriptions/.test(r.type)) continue;
        const diag = decls.find(
          (d) =>
            d.kind === 'resource' &&
            d.type.startsWith('Microsoft.Insights/diagnosticSettings') &&
            JSON.stringify(d.body).includes(`"name":"${r.name}"`),
        );
        expect(diag, `${r.name} has no diagnostic setting`).toBeDefined();
      }
    }
  });

  it('private networking: VNet integration, private endpoints and no public access for storage, Event Hubs, Redis (Key Vault on Elastic Premium)', () => {
    for (const s of SCENARIOS) {
      const scope = rootScope(s.params);
      const priv = s.params.privateNetworking === true;
      const premium = s.params.hostingPlan === 'ElasticPremium';
      expect(modulesOf(scope, 'network.bicep'), s.name).toHaveLength(priv ? 1 : 0);
      for (const t of [AVM.storage, AVM.eventHubs, AVM.redis]) {
        const p = onlyModule(scope, t).params;
        expect(p.publicNetworkAccess, `${s.name}: ${t}`).toBe(priv ? 'Disabled' : 'Enabled');
        expect((p.privateEndpoints as Value[]).length > 0, `${s.name}: ${t} private endpoints`).toBe(priv);
      }
      const storagePe = (onlyModule(scope, AVM.storage).params.privateEndpoints as Value[]).map((pe) =>
        at(pe, 'service'),
      );
      expect(storagePe).toEqual(priv ? ['blob', 'queue', 'table'] : []);
      const kv = onlyModule(scope, AVM.keyVault).params;
      expect(kv.publicNetworkAccess, `${s.name}: Key Vault`).toBe(priv && premium ? 'Disabled' : 'Enabled');
      const site = onlyModule(scope, AVM.site).params;
      expect(site.virtualNetworkSubnetResourceId === null, `${s.name}: VNet integration`).toBe(!priv);
      if (priv) {
        const delegation = at(modulesOf(scope, AVM.vnet)[0]!.params, 'subnets') as Value[];
        expect(at(delegation[0], 'delegation')).toBe(
          premium ? 'Microsoft.Web/serverFarms' : 'Microsoft.App/environments',
        );
      }
    }
  });
});

describe('infra/: alert rules', () => {
  const rulesOf = (overrides: Record<string, Value> = {}) =>
    modulesOf(rootScope(overrides), AVM.alertRule).map((m) => m.params);
  const criterion = (r: Value) => ((at(r, 'criterias', 'allOf') as Value[])[0] ?? {}) as Record<string, Value>;

  it('predict p95, error rate, ingest lag and drift, on Application Insights, with the thresholds of the parameters', () => {
    const rules = rulesOf({ predictP95ThresholdMs: 300, errorRateThresholdPercent: 5, ingestLagThresholdSeconds: 120 });
    const byName = Object.fromEntries(rules.map((r) => [String(r.name).replace(/^strata-/, ''), r]));
    expect(Object.keys(byName).sort()).toEqual(['drift', 'error-rate', 'ingest-lag', 'predict-p95']);
    expect(criterion(byName['predict-p95']!).threshold).toBe(300);
    expect(criterion(byName['error-rate']!).threshold).toBe(5);
    expect(criterion(byName['ingest-lag']!).threshold).toBe(120);
    expect(criterion(byName.drift!).threshold).toBe(0);
    for (const r of rules) {
      expect((r.scopes as Value[]).map(refOf)).toEqual([`br/public:${AVM.insights}0.8.0#resourceId`]);
      expect(typeof criterion(r).query).toBe('string');
    }
  });

  it('the queries name functions the app registers and metrics it exports (or that are on their way), and group by their dimensions', () => {
    const functions = new Set(registeredFunctions().map((f) => f.name));
    const metrics = exportedMetrics();
    expect(metrics.has('strata_predict_duration_seconds')).toBe(true);
    for (const r of rulesOf()) {
      const c = criterion(r);
      const q = c.query as string;
      for (const m of q.matchAll(/operation_Name == "([^"]+)"/g)) expect(functions, `${r.name}`).toContain(m[1]);
      for (const m of q.matchAll(/name == "(strata_[a-z0-9_]+)"/g)) {
        expect(
          metrics.has(m[1]!) || m[1]! in PENDING_METRICS,
          `${r.name}: metric ${m[1]} is neither exported nor pending`,
        ).toBe(true);
        if (metrics.has(m[1]!))
          expect(m[1]! in PENDING_METRICS, `${m[1]} is exported now: drop it from PENDING_METRICS`).toBe(false);
      }
      expect(q).toMatch(new RegExp(`\\b${c.metricMeasureColumn as string} = `));
      for (const d of c.dimensions as Value[])
        expect(q, `${r.name} dimension`).toMatch(new RegExp(`by .*\\b${at(d, 'name') as string}\\b`));
    }
  });

  it('alerts notify the action group when an e-mail is given, nobody otherwise', () => {
    for (const r of rulesOf()) expect(at(r, 'actions', 'actionGroupResourceIds')).toEqual([]);
    expect(modulesOf(rootScope(), AVM.actionGroup)).toHaveLength(0);
    for (const r of rulesOf({ alertEmail: 'oncall@example.com' })) {
      expect((at(r, 'actions', 'actionGroupResourceIds') as Value[]).map(refOf)).toEqual([
        `br/public:${AVM.actionGroup}0.8.0#resourceId`,
      ]);
    }
  });
});
