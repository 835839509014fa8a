/**
 * A description of an instantiated query, built from the running objects (the processors and outputs its
 * stages create), as Kafka Streams' `Topology.describe()` describes a running application. Tests compare it
 * with the plan's own description: what runs is what the plan says.
 */
import type { Processor } from "../processors/types.ts";
import type { PlannedQuery } from "./topology.ts";

/** One line per stage: `<id> (<tasks>): <inputs> -> <processors> -> <output topic>`. */
export function describeRunning(q: PlannedQuery): string[] {
  return q.stages.map((s) => {
    const processors = s.processors().map(processorKind);
    const output = s.output();
    return `${s.id} (${q.stagePartitions.get(s.id) ?? 1}): ${s.inputs.map((i) => i.topic).join(" + ")} -> ${[...processors, output.constructor.name.replace(/Output$/, "")].join(" -> ")} -> ${output.topic}`;
  });
}

function processorKind(p: Processor): string {
  return p.constructor.name.replace(/Processor$/, "");
}
