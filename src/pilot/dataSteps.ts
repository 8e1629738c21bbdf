import { join } from 'node:path';
import type { Logger } from '../core';
import { type TokenDoc, tokenToDoc } from '../picas/tokenDoc';
import { checkLocality, detectLocalityRunner, isStaged, type LocalityRunner } from '../staging';
import {
  parseStageIn,
  planStageOut,
  resultsFields,
  type StageInSpec,
  type StageOutPlan,
  stageIn,
  stageInUrls,
  stageOutFiles,
  type TransferOptions,
  uploadDestination,
  uploadResults,
} from '../transfer';

/** What a token asks the pilot to move, read (and validated) before anything runs. */
export interface DataPlan {
  stageIn?: StageInSpec;
  stageOut?: StageOutPlan;
}

export function planData(token: TokenDoc): DataPlan {
  const fields = tokenToDoc(token);
  return { stageIn: parseStageIn(fields), stageOut: planStageOut(fields) };
}

export interface DataStepContext {
  transfer: TransferOptions;
  localityCheck: 'auto' | 'off';
  logger: Logger;
  signal: AbortSignal;
  report: (state: { progress?: number; bytes?: number; statusLine?: string }) => void;
}

/** gfal's locality of one srm:// URL; other schemes, or no gfal on the node, count as on disk. */
async function nearlineCheck(ctx: DataStepContext): Promise<((url: string) => Promise<boolean>) | undefined> {
  if (ctx.localityCheck === 'off') return undefined;
  let runner: LocalityRunner;
  try {
    runner = await detectLocalityRunner('xattr', { pythonBin: ctx.transfer.gfalPython, timeoutS: 60 });
  } catch {
    return undefined;
  }
  return async (url) => {
    if (!url.startsWith('srm://')) return false;
    try {
      const [result] = await checkLocality([url], { runner, signal: ctx.signal });
      // Unknown (site cannot tell, gfal failed): try the download rather than give up.
      if (!result || result.unsupported || result.error || result.state === undefined) return false;
      return !isStaged(result.state);
    } catch {
      return false;
    }
  };
}

/** Stage-in of the token's inputs into Input/ (E_NOT_STAGED when a file is on tape only). */
export async function stageInputs(plan: DataPlan, workDir: string, ctx: DataStepContext): Promise<void> {
  if (!plan.stageIn) return;
  const urls = await stageInUrls(plan.stageIn, workDir);
  const isNearline = await nearlineCheck(ctx);
  const result = await stageIn({
    urls,
    inputDir: join(workDir, 'Input'),
    concurrency: plan.stageIn.concurrency,
    retries: plan.stageIn.retries,
    extract: plan.stageIn.extract,
    expectedAdler32: plan.stageIn.checksums,
    options: ctx.transfer,
    signal: ctx.signal,
    ...(isNearline ? { isNearline } : {}),
    onWarning: (message) => ctx.logger.warn(message),
    onProgress: (p) =>
      ctx.report({
        progress: p.filesTotal ? p.filesDone / p.filesTotal : undefined,
        bytes: p.bytes,
        statusLine: `downloading ${p.filesDone}/${p.filesTotal} (${(p.rate / 1e6).toFixed(1)} MB/s)`,
      }),
  });
  ctx.logger.info(
    { files: result.files.length, bytes: result.bytes, seconds: result.seconds },
    'stage-in done',
  );
}

/** Where the stage-out would put the results, in words (for a dry run, which uploads nothing). */
export function describeStageOut(plan: DataPlan, token: TokenDoc): string | undefined {
  const out = plan.stageOut;
  if (!out) return undefined;
  if (out.kind === 'upload')
    return `Output/ as ${uploadDestination(out.upload, tokenToDoc(token), new Date()).url}`;
  if (out.kind === 'files') return `${out.files.length} file(s) of stage_out.files`;
  return `${out.dir}/ to ${out.to}`;
}

/** Stage-out after a successful payload; returns the fields to record in the token. */
export async function stageOutputs(
  plan: DataPlan,
  token: TokenDoc,
  workDir: string,
  ctx: DataStepContext,
): Promise<Record<string, unknown>> {
  const out = plan.stageOut;
  if (!out) return {};
  if (out.kind === 'upload') {
    const result = await uploadResults({
      token: tokenToDoc(token),
      jobDir: workDir,
      upload: out.upload,
      options: ctx.transfer,
      signal: ctx.signal,
      onWarning: (m) => ctx.logger.warn(m),
    });
    ctx.logger.info({ location: result.location, bytes: result.bytes }, 'results uploaded');
    return resultsFields(result);
  }
  const result = await stageOutFiles({
    token: tokenToDoc(token),
    jobDir: workDir,
    plan: out,
    options: ctx.transfer,
    signal: ctx.signal,
    onWarning: (m) => ctx.logger.warn(m),
  });
  ctx.logger.info({ files: result.files.length, bytes: result.bytes }, 'stage-out done');
  return { stage_out_result: result.files, Results_size: result.bytes };
}
