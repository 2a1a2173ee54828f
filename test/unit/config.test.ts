import { describe, expect, it } from 'vitest';
import { loadConfig, localHostUrl, LOCAL_HOST_URL_VARIABLE, SETTING_NAMES } from '../../shared/config';
import { ConfigError } from '../../shared/errors';
import fs from 'node:fs';
import path from 'node:path';

describe('configuration', () => {
  it('works with nothing configured', () => {
    const c = loadConfig({});
    expect(c.port).toBe(7071);
    expect(c.redisUrl).toBeUndefined();
    expect(c.storage).toMatchObject({
      kind: 'connectionString',
      local: true,
      connectionString: expect.stringMatching(/BlobEndpoint=http:\/\/127\.0\.0\.1:10000/),
    });
  });

  it('names every bad setting at once, with the rule it broke', () => {
    try {
      loadConfig({ STRATA_PORT: 'abc', REDIS_URL: 'localhost:6379', STRATA_UPLOAD_MAX_BYTES: '-5' });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      const msg = (e as Error).message;
      expect(msg).toMatch(/STRATA_PORT: must be a number/);
      expect(msg).toMatch(/REDIS_URL: must start with redis:\/\//);
      expect(msg).toMatch(/STRATA_UPLOAD_MAX_BYTES: must be at least 1/);
    }
  });

  it('takes the monitoring schedule as NCRONTAB with six fields or five, and names a bad one', () => {
    expect(loadConfig({}).monitorSchedule).toBe('0 */15 * * * *');
    expect(loadConfig({ STRATA_MONITOR_SCHEDULE: '*/10 * * * *' }).monitorSchedule).toBe('*/10 * * * *');
    expect(loadConfig({ STRATA_MONITOR_SCHEDULE: '30 */10 * * * *' }).monitorSchedule).toBe('30 */10 * * * *');
    expect(() => loadConfig({ STRATA_MONITOR_SCHEDULE: '*/10 * * *' })).toThrow(
      /STRATA_MONITOR_SCHEDULE: must be an NCRONTAB schedule/,
    );
    expect(() => loadConfig({ STRATA_MONITOR_SCHEDULE: '0 61 * * * *' })).toThrow(/STRATA_MONITOR_SCHEDULE/);
  });

  it('reads durations as milliseconds and names a bad one', () => {
    expect(loadConfig({}).maxFutureSkewMs).toBe(3_600_000);
    expect(loadConfig({ STRATA_MAX_FUTURE_SKEW: '90s' }).maxFutureSkewMs).toBe(90_000);
    expect(loadConfig({ STRATA_MAX_FUTURE_SKEW: '5000' }).maxFutureSkewMs).toBe(5000);
    expect(() => loadConfig({ STRATA_MAX_FUTURE_SKEW: 'soon' })).toThrow(
      /STRATA_MAX_FUTURE_SKEW: expected a duration like "30s"/,
    );
  });

  it('logs predictions unless STRATA_PREDICTION_LOG is off, and names a bad value', () => {
    expect(loadConfig({}).predictionLog).toBe(true);
    expect(loadConfig({ STRATA_PREDICTION_LOG: 'on' }).predictionLog).toBe(true);
    expect(loadConfig({ STRATA_PREDICTION_LOG: 'off' }).predictionLog).toBe(false);
    expect(() => loadConfig({ STRATA_PREDICTION_LOG: 'no' })).toThrow(/STRATA_PREDICTION_LOG: must be on or off/);
  });

  it('accepts the development storage shorthand', () => {
    expect(loadConfig({ AzureWebJobsStorage: 'UseDevelopmentStorage=true' }).storage).toMatchObject({
      kind: 'connectionString',
      local: true,
      connectionString: expect.stringMatching(/devstoreaccount1/),
    });
  });

  it('local.settings.example.json lists every setting the code reads', () => {
    const example = JSON.parse(
      fs.readFileSync(path.resolve(__dirname, '../../local.settings.example.json'), 'utf8'),
    ) as { Values: Record<string, string> };
    for (const name of SETTING_NAMES) expect(Object.keys(example.Values)).toContain(name);
  });

  it("the local host's URL is a fact of the runtime read on use, not a setting", () => {
    expect(localHostUrl({ [LOCAL_HOST_URL_VARIABLE]: 'http://127.0.0.1:7071' })).toBe('http://127.0.0.1:7071');
    expect(localHostUrl({ [LOCAL_HOST_URL_VARIABLE]: ' ' })).toBeUndefined();
    expect(localHostUrl({})).toBeUndefined();
    expect(SETTING_NAMES).not.toContain(LOCAL_HOST_URL_VARIABLE);
  });
});
