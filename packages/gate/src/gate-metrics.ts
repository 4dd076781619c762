import { Counter, Registry, collectDefaultMetrics } from 'prom-client';

/** What the gate counts, served in Prometheus' text format at `/-/quorum/metrics`. */
export class GateMetrics {
  readonly registry = new Registry();
  readonly decisions = new Counter({
    name: 'quorum_gate_tarballs_total',
    help: 'tarballs asked for, by what the gate did (served, warned, refused, pending, unavailable) and the policy that applied',
    labelNames: ['outcome', 'policy'],
    registers: [this.registry],
  });
  readonly failures = new Counter({
    name: 'quorum_gate_failures_total',
    help: 'requests the gate could not answer from the upstream or the farm, by HTTP status answered',
    labelNames: ['status'],
    registers: [this.registry],
  });
  readonly submitted = new Counter({ name: 'quorum_gate_submitted_total', help: 'releases the gate asked the farm to verify', registers: [this.registry] });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'quorum_gate_' });
  }
}
