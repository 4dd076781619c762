import { QuorumError } from '@quorum/core';
import { analyzeTgz, type AnalyzeTgzOptions, type TgzAnalysis } from './analyze-tgz.js';

/** Artifact formats the compare package can analyze (a builder's `artifactFormat`). */
export type ArtifactFormat = 'tgz';

/** Analyzes an artifact of the given format (see `analyzeTgz`). */
export async function analyzeArtifact(format: ArtifactFormat, input: NodeJS.ReadableStream | string, opts?: AnalyzeTgzOptions): Promise<TgzAnalysis> {
  switch (format) {
    case 'tgz':
      return analyzeTgz(input, opts);
    default:
      throw new QuorumError('invalid-input', `unknown artifact format ${JSON.stringify(format as string)}`);
  }
}
