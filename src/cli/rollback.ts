/** `esql rollback <name>`: switch a stream or table back to the version that served before (still kept). */
import { DeployError, rollback } from "../../runtime/deploy/apply.ts";
import { readDeployed, recordRollback } from "../../runtime/deploy/deployed.ts";
import { openKafkaLog } from "./kafka.ts";
import { EXIT } from "./output.ts";
import { openTarget, type TargetOptions } from "./plan.ts";

export async function runRollback(
  name: string,
  options: TargetOptions,
  out: NodeJS.WriteStream = process.stdout,
): Promise<number> {
  if (options.serviceId && options.brokers) {
    // A service's instances follow its command topic: the switch recorded there serves on each at its next drain.
    const kafka = (await openKafkaLog({ brokers: options.brokers }))!;
    try {
      const version = await recordRollback(await readDeployed(kafka, options.serviceId, options.functions), name);
      out.write(`${name}: switched back to version ${version} (service ${options.serviceId})\n`);
      return EXIT.ok;
    } catch (e) {
      if (!(e instanceof DeployError)) throw e;
      process.stderr.write(`esql: rollback: ${e.message}\n`);
      return EXIT.failed;
    } finally {
      await kafka.close();
    }
  }
  const target = await openTarget(options);
  if (!target) return EXIT.failed;
  try {
    const version = await rollback(target.engine, name, (line) => process.stderr.write(`${line}\n`));
    out.write(`${name}: switched back to version ${version}\n`);
    return EXIT.ok;
  } catch (e) {
    if (!(e instanceof DeployError)) throw e;
    process.stderr.write(`esql: rollback: ${e.message}\n`);
    return EXIT.failed;
  } finally {
    await target.close();
  }
}
