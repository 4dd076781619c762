/**
 * Limits how many of one kind of work run at once: builds on this worker while more jobs are in
 * flight (a job does its fetch phase while another job's container runs, then waits for a slot), or
 * the registry view's upstream fetches.
 */
export class BuildSlots {
  private free: number;
  private readonly waiting: (() => void)[] = [];

  constructor(slots: number) {
    this.free = slots;
  }

  /** Runs `build` when a slot is free; the slot is released however `build` ends. */
  async run<T>(build: () => Promise<T>): Promise<T> {
    if (this.free > 0) this.free--;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      return await build();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.free++;
    }
  }
}
