import { execa } from 'execa';

/*
 * Python's xmlrpc.client is the reference implementation here: the LTA stager is a Python
 * service and GRID_LRT talked to it with xmlrpclib. Tests check our codec against it.
 */

const PYTHON = process.env.LRT_TEST_PYTHON ?? 'python3';

/** Runs a Python snippet that reads JSON on stdin; returns its stdout. */
export async function python(script: string, input: unknown): Promise<string> {
  const r = await execa(PYTHON, ['-c', script], { input: JSON.stringify(input) });
  return r.stdout;
}

/** `xmlrpc.client.dumps` of a method call with these JSON params. */
export function pythonMethodCall(method: string, params: unknown[]): Promise<string> {
  return python(
    'import json, sys, xmlrpc.client\n' +
      'd = json.load(sys.stdin)\n' +
      'sys.stdout.write(xmlrpc.client.dumps(tuple(d["params"]), d["method"]))',
    { method, params },
  );
}

/** `xmlrpc.client.dumps` of a method response (or a fault when `fault` is given). */
export function pythonResponse(value: unknown, fault?: { code: number; string: string }): Promise<string> {
  return python(
    'import json, sys, xmlrpc.client\n' +
      'd = json.load(sys.stdin)\n' +
      'if d.get("fault"):\n' +
      '    out = xmlrpc.client.dumps(xmlrpc.client.Fault(d["fault"]["code"], d["fault"]["string"]), methodresponse=True)\n' +
      'else:\n' +
      '    out = xmlrpc.client.dumps((d["value"],), methodresponse=True, allow_none=True)\n' +
      'sys.stdout.write(out)',
    { value, fault },
  );
}

/** What `xmlrpc.client.loads` makes of an XML-RPC message: `{method, params}` as JSON. */
export async function pythonLoads(xml: string): Promise<{ method: string | null; params: unknown[] }> {
  const out = await python(
    'import json, sys, base64, datetime, xmlrpc.client\n' +
      'params, method = xmlrpc.client.loads(json.load(sys.stdin), use_builtin_types=True)\n' +
      'def conv(v):\n' +
      '    if isinstance(v, bytes): return {"base64": base64.b64encode(v).decode()}\n' +
      '    if isinstance(v, datetime.datetime): return {"date": v.isoformat()}\n' +
      '    if isinstance(v, list): return [conv(x) for x in v]\n' +
      '    if isinstance(v, dict): return {k: conv(x) for k, x in v.items()}\n' +
      '    return v\n' +
      'sys.stdout.write(json.dumps({"method": method, "params": conv(list(params))}))',
    xml,
  );
  return JSON.parse(out);
}
