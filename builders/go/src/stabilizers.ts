/**
 * Every zip stabilizer (names as the compare package gives them): Go pins a module by the h1:
 * dirhash of its names and contents, so how the zip encodes them (order, times, modes, compression,
 * extra fields, layout) never makes a module another.
 */
export const ZIP_STABILIZER_NAMES = ['zip-entry-order', 'zip-times', 'zip-modes', 'zip-compression', 'zip-extra', 'zip-format'] as const;
