import { describe, expect, it } from 'vitest';
import { normalizeRepoDirectory, quoteRepoDirectory, repoDirectoryProblem } from './repo-directory.js';

describe('normalizeRepoDirectory', () => {
  for (const [input, expected] of [
    ['', ''],
    ['.', ''],
    ['./', ''],
    ['packages/a', 'packages/a'],
    ['./packages/a/', 'packages/a'],
    ['packages//a', 'packages/a'],
    ['packages/./a/.', 'packages/a'],
    ['.//packages///a//', 'packages/a'],
    ['...', '...'],
  ] as const) {
    it(`turns ${JSON.stringify(input)} into ${JSON.stringify(expected)}`, () => {
      expect(normalizeRepoDirectory(input)).toBe(expected);
    });
  }

  it('keeps .. segments visible instead of resolving them', () => {
    expect(normalizeRepoDirectory('a/../../b')).toBe('a/../../b');
  });
});

describe('repoDirectoryProblem', () => {
  for (const ok of ['', '.', './', 'packages/core', './packages/core/', 'a//b', 'a/./b', '...', '..a', 'a..', '.github', 'git', 'x/.gitignore', 'name with spaces', 'ünïcode', 'emoji-\u{1f600}']) {
    it(`accepts ${JSON.stringify(ok)}`, () => {
      expect(repoDirectoryProblem(ok)).toBeUndefined();
    });
  }

  for (const [bad, why] of [
    ['..', /leaves the repository/],
    ['../../../etc', /leaves the repository/],
    ['packages/../..', /leaves the repository/],
    ['packages/..', /leaves the repository/],
    ['./..', /leaves the repository/],
    ['/etc', /absolute/],
    ['//etc', /absolute/],
    ['C:/Windows', /drive letter/],
    ['c:', /drive letter/],
    ['packages\\core', /backslash/],
    ['..\\..\\etc', /backslash/],
    ['a\u0000b', /control/],
    ['a\nb', /control/],
    ['a\tb', /control/],
    ['a\u007fb', /control/],
    ['a\u0085b', /control/],
    ['a\u202eb', /control/],
    ['a\ud800b', /control/],
    ['.git', /\.git/],
    ['.git/hooks', /\.git/],
    ['sub/.GIT/objects', /\.git/],
    ['x'.repeat(501), /over 500 characters/],
    [Array.from({ length: 33 }, () => 'a').join('/'), /over 32 segments/],
  ] as const) {
    it(`refuses ${JSON.stringify(bad.length > 40 ? `${bad.slice(0, 40)}…` : bad)}`, () => {
      expect(repoDirectoryProblem(bad)).toMatch(why);
    });
  }

  it('accepts exactly 32 segments and 500 characters', () => {
    expect(repoDirectoryProblem(Array.from({ length: 32 }, () => 'a').join('/'))).toBeUndefined();
    expect(repoDirectoryProblem('x'.repeat(500))).toBeUndefined();
  });

  it('refuses a value that is not a string, as a hostile registry document may send', () => {
    expect(repoDirectoryProblem(42 as unknown as string)).toMatch(/not a string/);
  });

  it('quotes the declared directory in its message without raw control characters', () => {
    const problem = repoDirectoryProblem('../\u001b[31mred\u202e\n');
    expect(problem).toContain('control or formatting characters');
    expect(problem).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u202e]/);
  });

  it('cuts a long directory short in its message', () => {
    const problem = repoDirectoryProblem(`../${'a'.repeat(5000)}`)!;
    expect(problem.length).toBeLessThan(200);
  });
});

describe('quoteRepoDirectory', () => {
  it('escapes control and bidirectional formatting characters', () => {
    expect(quoteRepoDirectory('a\u0000b\u202ec\u0085')).toBe('"a\\u0000b\\u202ec\\u0085"');
  });

  it('truncates to a readable length with an ellipsis', () => {
    expect(quoteRepoDirectory('b'.repeat(100))).toBe(`"${'b'.repeat(80)}…"`);
  });
});
