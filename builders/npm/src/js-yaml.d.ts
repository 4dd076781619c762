// The parts of js-yaml 4 the pnpm lockfile reader uses (the package ships no types).
declare module 'js-yaml' {
  export interface Schema {
    readonly __schema: unique symbol;
  }
  export const FAILSAFE_SCHEMA: Schema;
  export class YAMLException extends Error {
    reason: string;
    mark?: { position: number; line: number; column: number };
  }
  export interface LoadOptions {
    schema?: Schema;
    json?: boolean;
    filename?: string;
  }
  export function loadAll(text: string, iterator?: null, options?: LoadOptions): unknown[];
  const jsYaml: { FAILSAFE_SCHEMA: Schema; YAMLException: typeof YAMLException; loadAll: typeof loadAll };
  export default jsYaml;
}
