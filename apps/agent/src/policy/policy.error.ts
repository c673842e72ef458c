/**
 * A policy file that cannot be used: one line naming the file, the field and the problem, e.g.
 * `/etc/warren/policy.yaml: deny[1]: invalid regular expression ...`. The agent does not start.
 */
export class PolicyError extends Error {
  override readonly name = 'PolicyError';
}
