import { stringify } from "yaml";
import { compileConfig } from "../../pipeline/compile-config.ts";
import { Diagnostics } from "../../pipeline/diagnostics.ts";
import { planOptionsFrom, printWarnings, type PipelineFlags } from "../pipeline-request.ts";

/**
 * `pier config`: the fully merged configuration (includes merged, `extends` and `!reference`
 * resolved), like GitLab's full configuration view. Only loading errors stop it.
 */
export async function configCommand(flags: PipelineFlags): Promise<void> {
  const diagnostics = new Diagnostics();
  const compiled = await compileConfig(planOptionsFrom(flags), diagnostics);
  diagnostics.throwIfErrors();
  printWarnings(diagnostics.warnings);
  if (!compiled) return;
  process.stdout.write(stringify(compiled.config, { lineWidth: 0, aliasDuplicateObjects: false }));
}
