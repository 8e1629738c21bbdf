/*
 * The version of this build: the package version and, when the build ran in a git checkout, its
 * commit ("0.1.0 (2260f39)"). scripts/build.mjs puts it into dist/lrt.js and dist/pilot.js, so a
 * worker node can tell which pilot.js a sandbox carried; run from the sources it is "dev".
 */

declare const LRT_BUILD_VERSION: string | undefined;

export const TOOL_VERSION: string = typeof LRT_BUILD_VERSION === 'string' ? LRT_BUILD_VERSION : 'dev';
