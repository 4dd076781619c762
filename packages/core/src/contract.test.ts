import { describe, expect, it } from 'vitest';
import { clipNotes, MAX_NOTE_CHARS, MAX_REPORT_NOTES } from './contract.js';

describe('clipNotes', () => {
  it('keeps notes within what the coordinator accepts, saying where one was cut', () => {
    const long = `dependency resolution failed: ${'npm error 404 '.repeat(100)}`;
    const clipped = clipNotes([...Array.from({ length: 40 }, (_, i) => `note ${i}`), long]);
    expect(clipped).toHaveLength(MAX_REPORT_NOTES);
    expect(clipNotes([long])[0]!.length).toBe(MAX_NOTE_CHARS);
    expect(clipNotes([long])[0]!.endsWith('…')).toBe(true);
    expect(clipNotes(['short'])).toEqual(['short']);
  });
});
