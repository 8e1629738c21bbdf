import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  decodeMethodCall,
  decodeMethodResponse,
  encodeFault,
  encodeMethodCall,
  encodeMethodResponse,
  XmlRpcFault,
  XmlRpcFormatError,
} from '../../src/staging/xmlrpc';
import { pythonLoads, pythonMethodCall, pythonResponse } from './python';

const progressSample = JSON.parse(
  readFileSync(join(__dirname, '../fixtures/staging/lta_getprogress_sample.json'), 'utf8'),
) as Record<string, Record<string, string>>;

const SURLS = [
  'srm://srm.grid.sara.nl:8443/pnfs/grid.sara.nl/data/lofar/ops/projects/lc2_038/229507/L229507_SB100_uv.dppp.MS_3d78b8f1.tar',
  'srm://lta-head.lofar.psnc.pl:8443/lofar/ops/projects/x/L1_SB001_a&b<c>.tar',
];

describe('XML-RPC codec against the XML-RPC specification examples', () => {
  it('reads the spec response and the spec fault', () => {
    const response = `<?xml version="1.0"?>
<methodResponse>
   <params>
      <param>
         <value><string>South Dakota</string></value>
         </param>
      </params>
   </methodResponse>`;
    expect(decodeMethodResponse(response)).toBe('South Dakota');
    const fault = `<?xml version="1.0"?>
<methodResponse>
   <fault>
      <value>
         <struct>
            <member>
               <name>faultCode</name>
               <value><int>4</int></value>
               </member>
            <member>
               <name>faultString</name>
               <value><string>Too many parameters.</string></value>
               </member>
            </struct>
         </value>
      </fault>
   </methodResponse>`;
    let caught: unknown;
    try {
      decodeMethodResponse(fault);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(XmlRpcFault);
    expect(caught).toMatchObject({ faultCode: 4, faultString: 'Too many parameters.' });
  });

  it('reads the spec call, with i4 and an untyped value as a string', () => {
    const call = `<?xml version="1.0"?>
<methodCall>
   <methodName>examples.getStateName</methodName>
   <params><param><value><i4>41</i4></value></param><param><value> plain text </value></param></params>
   </methodCall>`;
    expect(decodeMethodCall(call)).toEqual({ method: 'examples.getStateName', params: [41, ' plain text '] });
  });
});

describe('XML-RPC codec against Python xmlrpc.client (the stager side)', () => {
  it('Python reads our add_getid call: the SURL array arrives intact, escaping included', async () => {
    const loaded = await pythonLoads(encodeMethodCall('LtaStager.add_getid', [SURLS]));
    expect(loaded).toEqual({ method: 'LtaStager.add_getid', params: [SURLS] });
  });

  it('reads the add_getid call as xmlrpclib sends it (what the test double receives)', async () => {
    const xml = await pythonMethodCall('LtaStager.add_getid', [SURLS, false]);
    expect(decodeMethodCall(xml)).toEqual({ method: 'LtaStager.add_getid', params: [SURLS, false] });
  });

  it('Python reads every type we send', async () => {
    const when = new Date(Date.UTC(2018, 1, 7, 17, 12, 9));
    const value = {
      id: 18748,
      neg: -7,
      ratio: 0.25,
      yes: true,
      no: false,
      text: 'line1\nline2\r\ttab ]]> & "quotes"',
      empty: '',
      unicode: 'Jülich – ✓ 𝄞',
      when,
      bytes: Buffer.from([0, 1, 2, 255]),
      list: [1, 'two', [3]],
      nested: { 'File count': '51' },
    };
    const loaded = await pythonLoads(encodeMethodCall('t.all', [value]));
    expect(loaded.params[0]).toEqual({
      ...value,
      when: { date: '2018-02-07T17:12:09' },
      bytes: { base64: Buffer.from([0, 1, 2, 255]).toString('base64') },
    });
  });

  it('reads the getprogress answer of the fixture as Python sends it', async () => {
    const xml = await pythonResponse(progressSample);
    expect(decodeMethodResponse(xml)).toEqual(progressSample);
  });

  it('reads a Python fault, with the fault code and string', async () => {
    const xml = await pythonResponse(null, { code: 1, string: 'No request with id 99 <found>' });
    expect(() => decodeMethodResponse(xml)).toThrow(XmlRpcFault);
    try {
      decodeMethodResponse(xml);
    } catch (err) {
      expect(err).toMatchObject({ faultCode: 1, faultString: 'No request with id 99 <found>' });
    }
  });

  it('reads Python responses of every type, nil included', async () => {
    const value = { a: [1, -2, 3.5, true, false, null, 'x'], b: {}, c: [], d: 'ü & <' };
    expect(decodeMethodResponse(await pythonResponse(value))).toEqual(value);
  });

  it('Python reads our responses and faults (the test double speaks them)', async () => {
    expect(await pythonLoads(encodeMethodResponse({ ok: [1, 'two'] }))).toEqual({
      method: null,
      params: [{ ok: [1, 'two'] }],
    });
    // xmlrpc.client.loads raises the fault: make sure our fault is one Python recognises.
    const script = await pythonLoads(encodeFault(3, 'bad & wrong')).catch((err: Error) => err.message);
    expect(String(script)).toMatch(/Fault 3: 'bad & wrong'/);
  });
});

describe('XML-RPC codec edge cases', () => {
  it('round-trips values through our own encoder and decoder', () => {
    const value = { list: SURLS, n: 2 ** 31 - 1, d: new Date(Date.UTC(2020, 0, 2, 3, 4, 5)), nil: null };
    expect(decodeMethodResponse(encodeMethodResponse(value))).toEqual(value);
  });

  it('keeps a member named __proto__ as plain data', () => {
    const xml =
      '<methodResponse><params><param><value><struct><member><name>__proto__</name>' +
      '<value><struct><member><name>polluted</name><value>yes</value></member></struct></value>' +
      '</member></struct></value></param></params></methodResponse>';
    const value = decodeMethodResponse(xml) as Record<string, unknown>;
    expect(Object.keys(value)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect((value as { polluted?: unknown }).polluted).toBeUndefined();
  });

  it('decodes CDATA, comments, character references and self-closing empty strings', () => {
    const xml =
      '<?xml version="1.0" encoding="utf-8"?><!-- c --><methodResponse><params><param><value><array><data>' +
      '<value><string><![CDATA[a<b&c]]></string></value><value><string>&#x41;&#66;&lt;&amp;</string></value>' +
      '<value><string/></value></data></array></value></param></params></methodResponse>';
    expect(decodeMethodResponse(xml)).toEqual(['a<b&c', 'AB<&', '']);
  });

  it('refuses what is not XML-RPC with a format error that says why', () => {
    const cases: [string, RegExp][] = [
      ['<html><body>Bad Gateway</body></html>', /expected <methodResponse>, found <html>/],
      [
        '<methodResponse><params><param><value><int>x</int></value></param></params></methodResponse>',
        /not an integer/,
      ],
      [
        '<methodResponse><params><param><value><foo/></value></param></params></methodResponse>',
        /unknown XML-RPC type <foo>/,
      ],
      ['<methodResponse><params></params></methodResponse>', /exactly one <param>/],
      ['<methodResponse><params><param><value>x</value></param>', /never closed/],
      ['<!DOCTYPE x [<!ENTITY a "b">]><methodResponse/>', /DOCTYPE/],
      [
        '<methodResponse><params><param><value>&bogus;</value></param></params></methodResponse>',
        /unknown entity/,
      ],
      ['<methodResponse><params><param><value>a & b</value></param></params></methodResponse>', /bare "&"/],
      ['', /no root element/],
    ];
    for (const [xml, why] of cases) {
      expect(() => decodeMethodResponse(xml), xml).toThrow(XmlRpcFormatError);
      expect(() => decodeMethodResponse(xml), xml).toThrow(why);
    }
  });

  it('refuses to encode what XML-RPC servers cannot take', () => {
    expect(() => encodeMethodCall('m', [2 ** 31])).toThrow(/32-bit/);
    expect(() => encodeMethodCall('m', [Number.NaN])).toThrow(/NaN/);
    expect(() => encodeMethodCall('m', ['bell\x07'])).toThrow(/U\+0007/);
    expect(() => encodeMethodCall('bad name<', [])).toThrow(/method name/);
  });
});
