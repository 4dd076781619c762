/** @defaultValue the option defaults of `quorum up` */
export const UP_DEFAULTS = Object.freeze({ workers: 3, port: 8080, data: './.quorum', redisPort: 6379 });

/** File in the data dir that keeps the farm's admin token (mode 0600), reused by later runs. */
export const ADMIN_TOKEN_FILE = 'admin-token';
