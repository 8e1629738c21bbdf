import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { isLrtError } from '../../src/core';
import {
  buildPayloadEnv,
  CREDENTIAL_ENV_NAMES,
  envValue,
  isSafeFileName,
  type PayloadEnvInput,
  parseTokvar,
} from '../../src/pilot/payloadEnv';

const fixture = (name: string) => readFileSync(join(__dirname, '../fixtures/pilot', name), 'utf8');
const stub = { stub: true, content_type: 'text/plain', length: 1 };
const base = { jobDir: '/scratch/job-1', statusFile: '/scratch/job-1/pipeline_status' };

interface Steps {
  Job: { variables: Record<string, string> };
  Token: { variables: { _token_keys: Record<string, string>; _attachments: Record<string, string> } };
  container?: unknown;
  sandbox?: unknown;
}

/** A token as GRID_LRT's TokenDictBuilder makes it from a 2019 steps file. */
function tokenFromSteps(steps: Steps, id: string): PayloadEnvInput['token'] {
  const { variables, ...tokenFields } = steps.Token;
  return {
    _id: id,
    type: 'pref_cal',
    lock: 0,
    done: 0,
    ...tokenFields,
    ...steps.Job.variables,
    'config.json': { variables, container: steps.container, sandbox: steps.sandbox },
  };
}

describe('buildPayloadEnv from config.json (cal_pref3.json)', () => {
  const steps = JSON.parse(fixture('cal_pref3.json')) as Steps;
  const tokenKeys: Record<string, string> = steps.Token.variables._token_keys;
  const attachments: Record<string, string> = steps.Token.variables._attachments;

  it('exports every _token_keys field and every attachment file name', () => {
    const token = {
      ...tokenFromSteps(steps, 't_pref_cal_L229585_SB000'),
      _attachments: Object.fromEntries(Object.values(attachments).map((name) => [name, stub])),
    };
    const out = buildPayloadEnv({ token, ...base });
    for (const [dollarName, field] of Object.entries(tokenKeys)) {
      expect(out.env[dollarName.slice(1)]).toBe(String(steps.Job.variables[field]));
    }
    for (const [dollarName, attachment] of Object.entries(attachments)) {
      expect(out.env[dollarName.slice(1)]).toBe(attachment);
    }
    expect(out.files).toEqual(Object.values(attachments).map((a) => ({ attachment: a, fileName: a })));
    expect(out.env.TOKEN).toBe('t_pref_cal_L229585_SB000');
    expect(out.env.JOBDIR).toBe(base.jobDir);
    expect(out.env.PILOT_STATUS_FILE).toBe(base.statusFile);
    expect(out.missing).toEqual([]);
    expect(out.warnings).toEqual([]);
  });

  it('lists missing fields and attachments, sets nothing for them', () => {
    const token = tokenFromSteps(steps, 't1');
    delete (token as Record<string, unknown>).OBSID;
    token._attachments = { 'srm.txt': stub };
    const out = buildPayloadEnv({ token, ...base });
    const obsidVar = Object.keys(tokenKeys)
      .find((k) => tokenKeys[k] === 'OBSID')!
      .slice(1);
    const parsetVar = Object.keys(attachments).find((k) => attachments[k] !== 'srm.txt')!;
    expect(out.env).not.toHaveProperty(obsidVar);
    expect(out.env).not.toHaveProperty(parsetVar.slice(1));
    expect(out.missing).toEqual(['OBSID', `_attachments/${attachments[parsetVar]}`]);
    expect(out.files).toEqual([{ attachment: 'srm.txt', fileName: 'srm.txt' }]);
    expect(out.warnings.join('\n')).toMatch(/no field "OBSID"/);
  });

  it('stringifies numbers, objects and null like a shell would want them', () => {
    const token = {
      _id: 't2',
      count: 1234,
      flag: false,
      nested: { a: [1, 'b'] },
      empty: null,
      'config.json': {
        variables: { _token_keys: { $N: 'count', $F: 'flag', $J: 'nested', $E: 'empty', PLAIN: 'count' } },
      },
    };
    const out = buildPayloadEnv({ token, ...base });
    expect(out.env).toMatchObject({ N: '1234', F: 'false', J: '{"a":[1,"b"]}', E: '', PLAIN: '1234' });
    expect(envValue({ x: 1 })).toBe(JSON.stringify({ x: 1 }));
  });

  it('accepts config.json stored as a JSON string', () => {
    const token = {
      _id: 't3',
      OBSID: 'L1',
      'config.json': JSON.stringify({ variables: steps.Token.variables }),
    };
    expect(buildPayloadEnv({ token, ...base }).env.OBSID).toBe('L1');
  });
});

describe('legacy tokvar.cfg', () => {
  it('test_tok_var.cfg: fields to $VARS, attachments saved under their own name', () => {
    const text = fixture('test_tok_var.cfg');
    const yaml = parseYaml(text) as Record<string, string> & { _attachments: Record<string, string> };
    const token = {
      _id: 'travis_getSBX_test',
      string1: 'test_string',
      integer1: 1234,
      _attachments: { test_attachment: stub, test_attachment2: stub },
    };
    const out = buildPayloadEnv({ token, tokvar: text, ...base });
    expect(out.env[String(yaml.string1).slice(1)]).toBe('test_string');
    expect(out.env[String(yaml.integer1).slice(1)]).toBe('1234');
    expect(out.env[String(yaml._attachments.test_attachment2).slice(1)]).toBe('test_attachment2');
    // `test_attachment: test_attachment` names a file, not a variable
    expect(out.env).not.toHaveProperty('test_attachment');
    expect(out.files.map((f) => f.fileName).sort()).toEqual(['test_attachment', 'test_attachment2']);
    // `_id: $TOKEN` asks for what the pilot sets anyway: no warning
    expect(out.env.TOKEN).toBe(token._id);
    expect(out.warnings).toEqual([]);
  });

  it('the LOFAR prefactor tokvar.cfg maps onto the same structure', () => {
    const map = parseTokvar(fixture('tokvar.cfg'));
    const yaml = parseYaml(fixture('tokvar.cfg')) as Record<string, unknown>;
    const expectedKeys = Object.entries(yaml)
      .filter(([k]) => k !== '_attachments')
      .map(([field, v]) => ({ field, env: String(v).slice(1), source: 'tokvar.cfg' }));
    expect(map.tokenKeys).toEqual(expectedKeys);
    expect(map.attachments).toEqual([
      { attachment: 'Pre-Facet-Calibrator-2.parset', env: 'PARSET', source: 'tokvar.cfg' },
      { attachment: 'srm.txt', source: 'tokvar.cfg' },
    ]);

    const token = {
      _id: 't_pref_L1_SB000',
      OBSID: 'L1',
      start_SB: '000',
      lofar_sw_dir: '/cvmfs/lofar',
      pipeline: 'pref_cal1',
      _attachments: { 'Pre-Facet-Calibrator-2.parset': stub, 'srm.txt': stub },
    };
    const out = buildPayloadEnv({ token, tokvar: fixture('tokvar.cfg'), ...base });
    expect(out.env).toMatchObject({
      OBSID: 'L1',
      STARTSB: '000',
      LOFAR_PATH: '/cvmfs/lofar',
      PIPELINE: 'pref_cal1',
      PARSET: 'Pre-Facet-Calibrator-2.parset',
    });
    expect(out.missing).toEqual([]);
  });

  it('with both tokvar.cfg and config.json, config.json (the newer format) wins and says so', () => {
    const out = buildPayloadEnv({
      token: {
        _id: 't5',
        old: 'from-old',
        new: 'from-new',
        'config.json': { variables: { _token_keys: { $X: 'new' } } },
      },
      tokvar: 'old: $X\n',
      ...base,
    });
    expect(out.env.X).toBe('from-new');
    expect(out.warnings).toEqual([expect.stringMatching(/X was already set by tokvar\.cfg/)]);
  });

  it('a broken tokvar.cfg is the LOFAR tokvar error (-2)', () => {
    for (const text of ['a: [unclosed', '- just\n- a list\n']) {
      try {
        parseTokvar(text);
        expect.unreachable();
      } catch (err) {
        expect(isLrtError(err, 'E_CONFIG')).toBe(true);
        expect((err as { exitCode?: number }).exitCode).toBe(-2);
      }
    }
  });
});

describe('names, credentials, base environment', () => {
  const picas = { url: 'https://picas.example:6984', database: 'sksp', user: 'alice', password: 's3cret-pw' };
  const token = { _id: 't9', OBSID: 'L9', _attachments: { 'ok.parset': stub, '..': stub } };

  it('skips invalid env names and unsafe attachment names with a warning', () => {
    const input: PayloadEnvInput = {
      token: {
        ...token,
        'config.json': {
          variables: {
            _token_keys: { $1BAD: 'OBSID', '$HAS-DASH': 'OBSID', $GOOD_1: 'OBSID', $: 'OBSID' },
            _attachments: { $A: '../etc/passwd', $B: '..', $C: '', $D: 'ok.parset', $E: 'dir/x' },
          },
        },
      },
      ...base,
    };
    const out = buildPayloadEnv(input);
    expect(out.env.GOOD_1).toBe('L9');
    for (const name of ['1BAD', 'HAS-DASH', '', 'A', 'B', 'C', 'E'])
      expect(Object.hasOwn(out.env, name)).toBe(false);
    expect(out.env.D).toBe('ok.parset');
    expect(out.files).toEqual([{ attachment: 'ok.parset', fileName: 'ok.parset' }]);
    expect(out.warnings.filter((w) => /not a valid environment variable name/.test(w))).toHaveLength(3);
    expect(out.warnings.filter((w) => /not a safe file name/.test(w))).toHaveLength(4);
    expect(isSafeFileName('srm.txt')).toBe(true);
  });

  it('never lets an attachment overwrite a reserved file, nor a mapping override pilot variables', () => {
    const out = buildPayloadEnv({
      token: {
        ...token,
        _attachments: { 'master.sh': stub },
        'config.json': {
          variables: {
            _token_keys: { $TOKEN: 'OBSID', $PICAS_USR_PWD: 'OBSID' },
            _attachments: { $M: 'master.sh' },
          },
        },
      },
      reservedFileNames: ['master.sh'],
      ...base,
    });
    expect(out.files).toEqual([]);
    expect(out.env.TOKEN).toBe('t9');
    expect(out.env).not.toHaveProperty('PICAS_USR_PWD');
    expect(out.warnings).toHaveLength(3);
  });

  it('exports PiCaS credentials only with exportCredentials, and strips them from the base env', () => {
    const baseEnv = {
      PATH: '/usr/bin',
      HOME: '/home/x',
      PICAS_USR_PWD: 'from-env',
      PICAS_DB: 'x',
      UNSET: undefined,
    };
    const without = buildPayloadEnv({ token, baseEnv, picas, ...base });
    for (const name of CREDENTIAL_ENV_NAMES) expect(without.env).not.toHaveProperty(name);
    expect(without.env).toMatchObject({ PATH: '/usr/bin', HOME: '/home/x' });
    expect(without.env).not.toHaveProperty('UNSET');
    expect(JSON.stringify(without)).not.toContain('s3cret-pw');

    const withCreds = buildPayloadEnv({ token, baseEnv, picas, exportCredentials: true, ...base });
    expect(withCreds.env).toMatchObject({
      PICAS_USR: picas.user,
      PICAS_USR_PWD: picas.password,
      PICAS_DB: picas.database,
      PICAS_URL: picas.url,
    });
    expect(withCreds.warnings.join('\n')).not.toContain('s3cret-pw');
  });

  it('names the claim the run belongs to (PILOT_LEASE_ID, PILOT_ATTEMPT); a mapping cannot override them', () => {
    const lease = { id: 'c0ffee-lease', pilot: 'p1', host: 'wn1', expires: 9, renewed: 1, attempt: 3 };
    const claimed = {
      _id: 't_l',
      lease,
      OBSID: 'L1',
      'config.json': { variables: { _token_keys: { $PILOT_ATTEMPT: 'OBSID', $OBSID: 'OBSID' } } },
    };
    const out = buildPayloadEnv({ token: claimed, ...base });
    expect(out.env.PILOT_LEASE_ID).toBe(lease.id);
    expect(out.env.PILOT_ATTEMPT).toBe(String(lease.attempt));
    expect(out.env.OBSID).toBe('L1');
    expect(out.warnings.join('\n')).toMatch(/PILOT_ATTEMPT is set by the pilot/);
    const unclaimed = buildPayloadEnv({ token: { _id: 't_l', OBSID: 'L1' }, ...base });
    expect(unclaimed.env).not.toHaveProperty('PILOT_LEASE_ID');
    expect(unclaimed.env).not.toHaveProperty('PILOT_ATTEMPT');
  });
});

describe('tokens without any variable mapping', () => {
  it('export their own scalar fields, never protocol fields, objects or invalid names', () => {
    const token = {
      _id: 't_plain_L1_SB010',
      type: 'plain',
      lock: 5,
      done: 0,
      status: 'locked',
      OBSID: 'L1',
      STARTSB: '010',
      NCPU: 4,
      dryrun: false,
      times: { locked: 5 },
      'bad-name': 'x',
      nested: { a: 1 },
    };
    const { env, missing } = buildPayloadEnv({ token, jobDir: '/j', statusFile: '/j/s' });
    expect(missing).toEqual([]);
    expect(env).toMatchObject({
      OBSID: 'L1',
      STARTSB: '010',
      NCPU: '4',
      dryrun: 'false',
      TOKEN: 't_plain_L1_SB010',
    });
    for (const name of ['type', 'lock', 'done', 'status', 'times', 'bad-name', 'nested'])
      expect(env[name]).toBeUndefined();
  });

  it('a token with a mapping exports only what the mapping names', () => {
    const token = {
      _id: 't_x',
      OBSID: 'L1',
      OTHER: 'y',
      'config.json': { variables: { _token_keys: { $OBSID: 'OBSID' } } },
    };
    const { env } = buildPayloadEnv({ token, jobDir: '/j', statusFile: '/j/s' });
    expect(env.OBSID).toBe('L1');
    expect(env.OTHER).toBeUndefined();
  });
});
