import { keyPositionOf, positionOf } from "../../../../src/pipeline/load/source-map.ts";
import { ReferenceTag } from "../../../../src/pipeline/load/reference-tag.ts";

/**
 * Differences between two loaded YAML values, positions included: empty when the fast reader
 * and the `yaml` library agree.
 */
export function yamlDifferences(fast: unknown, full: unknown, path = "$"): string[] {
  const differences: string[] = [];
  const compare = (a: unknown, b: unknown, at: string): void => {
    if (typeof a !== "object" || a === null || typeof b !== "object" || b === null) {
      if (!Object.is(a, b)) differences.push(`${at}: ${String(a)} !== ${String(b)}`);
      return;
    }
    if (a instanceof ReferenceTag || b instanceof ReferenceTag) {
      if (!(a instanceof ReferenceTag && b instanceof ReferenceTag)) {
        differences.push(`${at}: only one is a !reference`);
        return;
      }
      if (JSON.stringify(a.position) !== JSON.stringify(b.position))
        differences.push(
          `${at}: !reference at ${JSON.stringify(a.position)} !== ${JSON.stringify(b.position)}`,
        );
      compare(a.path, b.path, `${at}.path`);
      return;
    }
    if (Array.isArray(a) !== Array.isArray(b)) {
      differences.push(`${at}: list and mapping`);
      return;
    }
    const positionA = JSON.stringify(positionOf(a));
    const positionB = JSON.stringify(positionOf(b));
    if (positionA !== positionB) differences.push(`${at}: at ${positionA} !== ${positionB}`);
    const keysA = Object.keys(a);
    const keysB = Object.keys(b);
    if (keysA.join("\0") !== keysB.join("\0")) {
      differences.push(`${at}: keys ${JSON.stringify(keysA)} !== ${JSON.stringify(keysB)}`);
      return;
    }
    for (const key of keysA) {
      if (!Array.isArray(a)) {
        const keyA = JSON.stringify(keyPositionOf(a, key));
        const keyB = JSON.stringify(keyPositionOf(b, key));
        if (keyA !== keyB) differences.push(`${at}.${key}: key at ${keyA} !== ${keyB}`);
      }
      compare(
        (a as Record<string, unknown>)[key],
        (b as Record<string, unknown>)[key],
        `${at}.${key}`,
      );
    }
  };
  compare(fast, full, path);
  return differences;
}
