/**
 * Token documents with missing or wrongly typed fields, as a hand edit or an older tool leaves
 * them. They are written straight into the database and one pilot processes them all.
 *
 * What happens to each is decided per field (README.md):
 * - `error`: claimed, then failed before anything runs, the message naming the field.
 * - `done`: the field is the pilot's bookkeeping, or GRID_LRT reads it that way: the token runs.
 * - `skipped`: the `todo` view does not list it (a view compares with `==`), so no pilot sees it;
 *   `lrt doctor --type T` names it. Its document is left exactly as it was.
 */

export interface TokenCase {
  name: string;
  id: string;
  /** Laid over a valid token (type, lock 0, done 0, status todo, SBXloc); undefined removes a field. */
  fields: Record<string, unknown>;
  outcome: 'error' | 'done' | 'skipped';
  /** error: substrings of the error message; done: of the payload's stdout. */
  expect: string[];
}

const error = (name: string, id: string, fields: Record<string, unknown>, expect: string[]): TokenCase => ({
  name,
  id,
  fields,
  outcome: 'error',
  expect,
});

export const TOKEN_CASES: TokenCase[] = [
  error('config.json is a number', 't_cfg_number', { 'config.json': 42 }, ['config.json', 'number 42']),
  error('config.json is a string that is not JSON', 't_cfg_text', { 'config.json': '{variables:' }, [
    'config.json',
    'not JSON',
  ]),
  error('config.json.variables is a list', 't_vars_list', { 'config.json': { variables: ['OBSID'] } }, [
    'config.json.variables',
    'list',
  ]),
  error(
    '_token_keys is not an object',
    't_keys_string',
    { 'config.json': { variables: { _token_keys: 'OBSID' } } },
    ['_token_keys', 'string "OBSID"'],
  ),
  error(
    '_attachments maps to a number',
    't_att_number',
    { 'config.json': { variables: { _attachments: { $SRM: 7 } } } },
    ['_attachments["$SRM"]', 'number 7'],
  ),
  error(
    'a _token_keys field the token lacks',
    't_keys_missing_field',
    { 'config.json': { variables: { _token_keys: { $OBSID: 'OBSID_MISSING' } } } },
    ['OBSID_MISSING'],
  ),
  error('stage_in is a sentence', 't_stage_in', { stage_in: 'yes please' }, ['stage_in']),
  error('stage_in.from escapes the job dir', 't_stage_in_from', { stage_in: { from: '../../etc/passwd' } }, [
    'stage_in.from',
  ]),
  error(
    'the srm.txt to stage in is not UTF-8',
    't_stage_in_latin1',
    {
      stage_in: true,
      _attachments: {
        'srm.txt': {
          content_type: 'text/plain',
          data: Buffer.concat([
            Buffer.from('srm://srm.grid.sara.nl:8443/pnfs/grid.sara.nl/data/lofar/ops/L1_SB000_caf'),
            Buffer.from([0xe9]),
            Buffer.from('.tar\n'),
          ]).toString('base64'),
        },
      },
    },
    ['srm.txt line 1', '0xE9', 'UTF-8'],
  ),
  error('stage_out is a number', 't_stage_out', { stage_out: 3 }, ['stage_out']),
  error(
    'upload with an unknown date granularity',
    't_upload_granularity',
    {
      stage_out: true,
      upload: {
        location: 'file:///tmp/out',
        template: 'x_$DATE',
        add_date: true,
        date_granularity: 'fortnight',
      },
    },
    ['upload.date_granularity', 'fortnight'],
  ),
  error('SBXloc missing', 't_sbx_missing', { SBXloc: undefined }, ['sandbox', 'SBXloc']),
  error('SBXloc is a number', 't_sbx_number', { SBXloc: 17 }, ['SBXloc', 'number 17']),
  error('SBXloc with an unknown scheme', 't_sbx_scheme', { SBXloc: 'gopher://example.org/sandbox.tar' }, [
    'gopher://',
  ]),
  error('timeout_s negative', 't_timeout_negative', { timeout_s: -5 }, ['timeout_s', '-5']),
  error('timeout_s as text', 't_timeout_text', { timeout_s: '600' }, ['timeout_s', 'string "600"']),
  error('lease_s as text', 't_lease_text', { lease_s: 'long' }, ['lease_s', 'string "long"']),
  {
    name: 'payload writes bytes that are not UTF-8 to stderr and its status',
    id: 't_payload_bytes',
    fields: {},
    outcome: 'error',
    expect: ['exited with code 3'],
  },
  {
    name: 'lock "0" (a string)',
    id: 't_lock_string_zero',
    fields: { lock: '0' },
    outcome: 'done',
    expect: ['ran'],
  },
  {
    name: 'lock "" and done false (== 0)',
    id: 't_lock_empty',
    fields: { lock: '', done: false },
    outcome: 'done',
    expect: ['ran'],
  },
  {
    name: 'bookkeeping fields of the wrong type',
    id: 't_bookkeeping',
    fields: {
      attempts: 'many',
      times: [1, 2],
      error: { old: true },
      lease: 'x',
      scrub_count: 'lots',
      progress: 'half',
    },
    outcome: 'done',
    expect: ['ran'],
  },
  {
    name: 'an id with a slash, dots, a space and non-ASCII',
    id: 't_odd/../id ü',
    fields: {},
    outcome: 'done',
    expect: ['ran t_odd/../id ü'],
  },
  {
    // JSON cannot hold bytes that are not UTF-8, and CouchDB refuses a lone surrogate: these are
    // the strangest values a field can have
    name: 'fields with a NUL, escape sequences and non-BMP characters',
    id: 't_odd_values',
    fields: { NULFIELD: 'a\u0000b', CONTROL: 'tab\there\u001b[31m\r', EMOJI: 'L1 \u{1F52D}' },
    outcome: 'done',
    expect: ['ran'],
  },
  { name: 'done missing', id: 't_done_missing', fields: { done: undefined }, outcome: 'skipped', expect: [] },
  { name: 'done null', id: 't_done_null', fields: { done: null }, outcome: 'skipped', expect: [] },
  { name: 'lock "yes"', id: 't_lock_word', fields: { lock: 'yes' }, outcome: 'skipped', expect: [] },
];

/**
 * The payload for the token corpus: says which token ran; one token writes bytes that are not
 * UTF-8 to stderr and to the status file, then fails.
 */
export const TOKEN_CORPUS_MASTER = `#!/usr/bin/env bash
if [ "$TOKEN" = t_payload_bytes ]; then
  printf 'bad \\xff\\xfe bytes\\n' >&2
  printf 'phase \\xc3\\x28\\n' > "$PILOT_STATUS_FILE"
  sleep 0.3
  exit 3
fi
echo "ran $TOKEN"
`;

/** The exact bytes TOKEN_CORPUS_MASTER writes to stderr for t_payload_bytes. */
export const NON_UTF8_STDERR = Buffer.from([...Buffer.from('bad '), 0xff, 0xfe, ...Buffer.from(' bytes\n')]);
