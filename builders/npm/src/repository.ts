/**
 * Normalizes the many spellings of package.json `repository` into a clonable URL.
 * Returns undefined when nothing usable is there.
 */
export function normalizeRepositoryUrl(raw: string): string | undefined {
  let s = raw.trim();
  if (s === '') return undefined;
  const shorthand = /^(github|gitlab|bitbucket):([\w.-]+\/[\w.-]+?)(?:\.git)?$/.exec(s);
  if (shorthand) {
    const host = { github: 'github.com', gitlab: 'gitlab.com', bitbucket: 'bitbucket.org' }[shorthand[1] as 'github'];
    return `https://${host}/${shorthand[2]}.git`;
  }
  if (/^[\w.-]+\/[\w.-]+$/.test(s)) return `https://github.com/${s.replace(/\.git$/, '')}.git`;
  s = s.replace(/^git\+/, '');
  // scp-like ssh form: git@host:owner/repo.git
  const scp = /^[\w.-]+@([\w.-]+):(?!\/\/)(.+)$/.exec(s);
  if (scp) return `https://${scp[1]}/${scp[2]}`;
  let url: URL;
  try {
    url = new URL(s);
  } catch {
    return undefined;
  }
  if (url.protocol === 'ssh:' || url.protocol === 'git:') {
    // public hosts serve the same repository over https; fetching over https needs no credentials
    return `https://${url.hostname}${url.pathname}`;
  }
  if (url.protocol === 'http:' || url.protocol === 'https:' || url.protocol === 'file:') {
    url.hash = '';
    return url.toString();
  }
  return undefined;
}
