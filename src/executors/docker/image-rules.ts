import picomatch from "picomatch";
import type { PullPolicy } from "../../job/spec.ts";
import type { DockerSettings } from "../../runner/runner-config.ts";

/** A job asked for something the runner's configuration does not allow; the job fails with this reason. */
export class DisallowedRequestError extends Error {}

/** gitlab-runner's glob match of allow lists (`*` stays within a path segment, `**` crosses them). */
export function allowedByList(name: string, patterns: readonly string[]): boolean {
  if (patterns.length === 0) return true;
  return patterns.some((pattern) => picomatch.isMatch(name, pattern, { dot: true }));
}

/** Refuses an image or service `allowed_images`/`allowed_services` rules out. */
export function checkAllowedImage(
  name: string,
  kind: "image" | "service",
  settings: DockerSettings,
): void {
  const patterns = kind === "image" ? settings.allowedImages : settings.allowedServices;
  if (!allowedByList(name, patterns)) {
    throw new DisallowedRequestError(
      `the "${name}" ${kind} is not present on list of allowed ${kind}s: ${patterns.join(", ")}`,
    );
  }
}

/**
 * Whether a container runs privileged: only when the configuration says so (`privileged`, or
 * `services_privileged` for services) and the image is on the matching privileged allow list.
 * A configuration that turns privilege on but does not allow this image refuses the job, so a
 * DinD service never silently runs without the privileges it needs.
 */
export function privilegeFor(
  name: string,
  kind: "image" | "service",
  settings: DockerSettings,
): boolean {
  const wanted =
    kind === "service" ? (settings.servicesPrivileged ?? settings.privileged) : settings.privileged;
  if (!wanted) return false;
  const patterns =
    kind === "image" ? settings.allowedPrivilegedImages : settings.allowedPrivilegedServices;
  if (!allowedByList(name, patterns)) {
    throw new DisallowedRequestError(
      `privileged mode is not allowed for the "${name}" ${kind} (allowed_privileged_${kind}s: ${patterns.join(", ")})`,
    );
  }
  return true;
}

/**
 * The pull policies to try for an image, in order: the job's (`image:pull_policy`) when it sets
 * them, each of which must be allowed, else the configuration's.
 */
export function pullPoliciesFor(
  requested: readonly PullPolicy[] | undefined,
  settings: DockerSettings,
): PullPolicy[] {
  const allowed =
    settings.allowedPullPolicies.length > 0 ? settings.allowedPullPolicies : undefined;
  if (requested === undefined || requested.length === 0) {
    const configured = settings.pullPolicy;
    if (allowed === undefined) return [...configured];
    const usable = configured.filter((policy) => allowed.includes(policy));
    if (usable.length === 0) {
      throw new DisallowedRequestError(
        `pull_policy ([${configured.join(" ")}]) defined in the runner config is not one of the allowed_pull_policies ([${allowed.join(" ")}])`,
      );
    }
    return usable;
  }
  if (allowed !== undefined) {
    const refused = requested.filter((policy) => !allowed.includes(policy));
    if (refused.length > 0) {
      throw new DisallowedRequestError(
        `pull_policy ([${requested.join(" ")}]) defined in GitLab pipeline config is not one of the allowed_pull_policies ([${allowed.join(" ")}])`,
      );
    }
  }
  return [...requested];
}
