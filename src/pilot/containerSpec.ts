import { LrtError } from '../core';
import type { TokenDoc } from '../picas/tokenDoc';

/*
 * The container image a token asks for (`config.json.container.singularity`: SIMG, SIMG_COMMIT),
 * and where to fetch it from, by GRID_PiCaS_Launcher's rules (docs/container-images.md):
 * | SIMG                         | sources, tried in order                                        |
 * |------------------------------|----------------------------------------------------------------|
 * | shub://user/collection:image | the shub mirror over https: <mirror>/user/collection/image[@COMMIT].sif |
 *   (Singularity Hub itself, the launcher's last resort through `singularity pull`, closed in 2021)
 * | gsiftp://.../name.sif        | gsiftp://.../name@COMMIT.sif with a commit, else as written     |
 * | http(s)://..., file://...    | as written                                                      |
 * | /absolute/path               | that file                                                       |
 * SIMG_COMMIT is the image's md5 (the mirror names files by it): a download that does not match
 * it is refused.
 */

export const DEFAULT_SHUB_MIRROR = 'https://lofar-webdav.grid.sara.nl/software/shub_mirror';

export interface ContainerSpec {
  /** SIMG as the token gives it. */
  simg: string;
  /** SIMG_COMMIT as the token gives it. */
  commit?: string;
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function bad(token: TokenDoc, why: string): LrtError {
  return new LrtError('E_CONFIG', `token ${token._id}: config.json.container.singularity ${why}`, {
    exitCode: -2,
    details: { token: token._id },
  });
}

/** The image of a token, or undefined when it names none. Throws E_CONFIG (-2) on a malformed one. */
export function containerSpecOf(token: TokenDoc): ContainerSpec | undefined {
  let config = token['config.json'];
  if (typeof config === 'string') {
    try {
      config = JSON.parse(config);
    } catch {
      return undefined; // tokenShape.ts reports a config.json that is not JSON
    }
  }
  if (!isRecord(config) || !isRecord(config.container)) return undefined;
  const singularity = config.container.singularity;
  if (singularity === undefined || singularity === null) return undefined;
  if (!isRecord(singularity)) throw bad(token, 'must be an object {SIMG, SIMG_COMMIT}');
  const { SIMG: simg, SIMG_COMMIT: commit } = singularity;
  if (simg === undefined || simg === null || simg === '') return undefined;
  if (typeof simg !== 'string') throw bad(token, 'SIMG must be a string');
  if (commit !== undefined && commit !== null && typeof commit !== 'string') {
    throw bad(token, 'SIMG_COMMIT must be a string');
  }
  return {
    simg: simg.trim(),
    ...(typeof commit === 'string' && commit.trim() ? { commit: commit.trim() } : {}),
  };
}

/** The URLs to try for `spec`, in order. Pure. */
export function imageSources(spec: ContainerSpec, mirror: string = DEFAULT_SHUB_MIRROR): string[] {
  const { simg, commit } = spec;
  if (simg.startsWith('/')) return [`file://${simg}`];
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(simg)?.[1]?.toLowerCase();
  if (scheme === 'shub') {
    // shub://user/collection:image -> <mirror>/user/collection/image[@commit].sif
    const m = /^shub:\/\/([^/]+)\/([^:/]+)(?::(.+))?$/i.exec(simg);
    if (!m) {
      throw new LrtError('E_CONFIG', `container image ${simg} is not shub://user/collection:image`, {
        exitCode: -2,
      });
    }
    const [, user, collection, image = 'latest'] = m;
    // `?action=show` as the launcher asks it: the mirror's WebDAV door then sends the file itself.
    return [
      `${mirror.replace(/\/+$/, '')}/${user}/${collection}/${image}${commit ? `@${commit}` : ''}.sif?action=show`,
    ];
  }
  if (scheme === 'gsiftp' || scheme === 'srm') {
    return [commit ? `${simg.replace(/\.sif$/, '')}@${commit}.sif` : simg];
  }
  if (scheme === 'http' || scheme === 'https' || scheme === 'file' || scheme === 'davs' || scheme === 'dav') {
    return [simg];
  }
  throw new LrtError(
    'E_CONFIG',
    `container image ${simg}: unknown location (shub://, gsiftp://, http(s)://, file:// or a path)`,
    {
      exitCode: -2,
    },
  );
}

/** An md5 the image must have: SIMG_COMMIT when it is one (32 hex digits). */
export function expectedMd5(spec: ContainerSpec): string | undefined {
  return spec.commit && /^[0-9a-f]{32}$/i.test(spec.commit) ? spec.commit.toLowerCase() : undefined;
}
