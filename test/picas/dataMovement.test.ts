import { describe, expect, it } from 'vitest';
import { describeDataMovement, summarizeDataMovement, withDataMovement } from '../../src/picas/dataMovement';

const upload = { location: 'gsiftp://host/results', template: 'out_$STARTSB', gzip: true };
const nobodyMoves = { inputs: false, results: false };
const list = (text: string) => [{ name: 'srm.txt', data: Buffer.from(text) }];

describe('withDataMovement', () => {
  it('adds stage_in for a SURL list and stage_out for an upload section', () => {
    expect(withDataMovement({ upload }, { surlList: true }, nobodyMoves)).toEqual({
      upload,
      stage_in: true,
      stage_out: true,
    });
  });

  it('adds nothing without a SURL list or an upload section, nor when the payload moves the data', () => {
    expect(withDataMovement({ a: 1 }, { surlList: false }, nobodyMoves)).toEqual({ a: 1 });
    expect(withDataMovement({ upload }, { surlList: true }, { inputs: true, results: true })).toEqual({
      upload,
    });
    expect(withDataMovement({ upload }, { surlList: true }, { inputs: true, results: false })).toEqual({
      upload,
      stage_out: true,
    });
  });

  it('keeps fields given by the config or --set', () => {
    const fields = { upload, stage_in: { concurrency: 2 }, stage_out: false };
    expect(withDataMovement(fields, { surlList: true }, nobodyMoves)).toEqual(fields);
  });
});

describe('summarizeDataMovement', () => {
  it('counts the files of each srm.txt, their schemes, and the upload target', () => {
    const fields = { stage_in: true, stage_out: true, upload };
    const summary = summarizeDataMovement([
      { fields, attachments: list('srm://srm.grid.sara.nl/a\nsrm://srm.grid.sara.nl/b\n') },
      { fields, attachments: list('gsiftp://host/c\n\n# comment\n') },
    ]);
    expect(summary).toEqual({
      stageIn: { tokens: 2, files: 3, from: 'srm.txt', schemes: ['gsiftp', 'srm'] },
      stageOut: { tokens: 2, to: 'Output/ as gsiftp://host/results/out_$STARTSB.tar.gz' },
      notes: [],
    });
    const lines = describeDataMovement(summary);
    expect(lines[0]).toContain('stages in 3 file(s) for 2 token(s)');
    expect(lines[0]).toContain('gsiftp (globus-url-copy)');
    expect(lines[1]).toContain('out_$STARTSB.tar.gz');
  });

  it('says what is left to the payload', () => {
    const summary = summarizeDataMovement([{ fields: { upload }, attachments: list('srm://x/a\n') }]);
    expect(summary.stageIn).toBeUndefined();
    expect(summary.notes).toEqual([
      'no stage-in: the payload fetches its own inputs',
      'no stage-out: the payload uploads its results itself (from the token field upload)',
    ]);
  });

  it('reads URL lists given in stage_in.from and stage_out file lists', () => {
    const summary = summarizeDataMovement([
      {
        fields: {
          stage_in: { from: ['https://h/a', 'file:///b'] },
          stage_out: { files: [{ from: 'x', to: 'file:///y' }] },
        },
      },
    ]);
    expect(summary.stageIn).toEqual({
      tokens: 1,
      files: 2,
      from: 'stage_in.from',
      schemes: ['file', 'https'],
    });
    expect(summary.stageOut).toEqual({ tokens: 1, to: '1 file(s) of stage_out.files' });
  });
});
